# ARGs before the first FROM are global: usable in FROM lines
ARG BASE=busybox VERSION="1.36" EMPTY=
ARG PLATFORM
FROM ${BASE}:$VERSION
ARG VERSION
RUN echo $VERSION
