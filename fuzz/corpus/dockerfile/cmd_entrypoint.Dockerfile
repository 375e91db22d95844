FROM busybox
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo", "$HOME"]
CMD echo shell form $HOME
ENTRYPOINT exec top -b
CMD []
