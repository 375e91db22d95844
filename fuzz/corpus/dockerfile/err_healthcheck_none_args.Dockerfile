FROM busybox
HEALTHCHECK --retries=3 NONE
