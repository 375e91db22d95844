FROM busybox
EXPOSE 80 443/tcp 53/udp
EXPOSE $PORT 8000-8010
VOLUME /data
VOLUME ["/var/log", "/path with space"]
VOLUME /a /b
