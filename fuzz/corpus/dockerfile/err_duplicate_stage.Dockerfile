FROM busybox AS a
FROM alpine AS A
