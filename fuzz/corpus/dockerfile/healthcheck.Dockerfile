FROM busybox
HEALTHCHECK CMD wget -q -O- http://localhost/ || exit 1
HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD ["curl", "-f", "http://localhost/"]
HEALTHCHECK --interval=0s cmd true
HEALTHCHECK NONE
healthcheck none
