FROM busybox
ENV =value
