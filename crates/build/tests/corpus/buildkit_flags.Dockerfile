# syntax=docker/dockerfile:1
FROM busybox
RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok,required \
    --mount=type=bind,from=busybox,source=/bin,target=/b --network=none echo hi
RUN --mount=type=cache,target=$DIR echo later
COPY --parents --exclude=*.md --exclude=tmp/ src/./app /dst/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a /a
