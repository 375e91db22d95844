FROM busybox
RUN echo hello   world && \
    echo "two"
RUN ["echo", "exec", "form"]
RUN [ "not", json ]
RUN ["sh", "-c", "echo \"quoted\" \\ back"]
RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/tmp --network=none echo flags
RUN -- --not-a-flag
