#  SYNTAX = docker/dockerfile:1.7
# Escape=\
# check=skip=all
# a plain comment ends the directives
# escape=` is only a comment here
FROM busybox
RUN echo a \
    b
