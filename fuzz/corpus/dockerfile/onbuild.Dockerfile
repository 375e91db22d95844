FROM busybox
ONBUILD RUN echo triggered
ONBUILD COPY --chown=1 . /src
onbuild env A=1
ONBUILD HEALTHCHECK NONE
