FROM busybox
RUN --mount=type=nfs,target=/x true
