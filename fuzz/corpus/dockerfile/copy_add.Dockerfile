FROM busybox
COPY a.txt /a.txt
COPY --chown=1000:1000 --chmod=0644 src/ lib/ /app/
COPY ["file with space.txt", "/dest dir/"]
COPY --link --from=builder /out/bin /usr/local/bin/
COPY --from=0 /x /y
COPY --from=docker.io/library/alpine:3.19 /etc/os-release /os-release
ADD archive.tar.gz /opt/
ADD --chown=app --chmod=755 https://example.com/file.txt /file.txt
ADD ["a", "b", "/dir/"]
