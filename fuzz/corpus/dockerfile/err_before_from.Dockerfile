# only ARG may come before FROM
ARG OK=1
RUN echo no stage
FROM busybox
