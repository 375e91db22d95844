# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS main
MAINTAINER someone
LABEL a=b
ENV X=1
ARG Y=2
WORKDIR /w
USER root
ADD a /a
COPY b /b
RUN echo run
SHELL ["/bin/sh", "-c"]
EXPOSE 8080
VOLUME /v
STOPSIGNAL SIGTERM
HEALTHCHECK CMD true
ONBUILD RUN echo child
ENTRYPOINT ["sh"]
CMD ["-c", "echo hi"]
