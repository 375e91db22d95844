FROM busybox
RUN apt-get update && \
    # a comment inside the continuation is skipped
    apt-get install -y \

        curl \
  # indented comment
        git
     # indented comment line between instructions
   RUN echo indented instruction
RUN echo trailing blanks after escape \   
    ok
RUN echo last line continues \
