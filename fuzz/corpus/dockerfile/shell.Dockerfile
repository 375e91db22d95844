FROM busybox
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
RUN echo uses the new shell | cat
SHELL [ "powershell", "-command" ]
