FROM busybox
RUN --privileged echo hi
