# a comment first
# escape=`
FROM busybox
RUN echo still \
    backslash
