FROM busybox
RUN true
RUNN echo typo
