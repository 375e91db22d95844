FROM busybox
ENV LEGACY value with   spaces
ENV A=1 B="two words" C='$NOT_EXPANDED' D=e\ f E=
ENV PATH=/opt/bin:$PATH \
    HOME=${HOME:-/root}
ENV Q="a \"quoted\" word" MULTI="line1 \
line2"
