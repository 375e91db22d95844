FROM --platform busybox
