FROM --platform=linux/amd64 alpine:3.19 AS Build
RUN true
from scratch
FROM build as Final
FROM docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
