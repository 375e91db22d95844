FROM busybox
RUN echo crlf \
    joined
CMD ["sh"]
