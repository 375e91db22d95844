FROM busybox
COPY <<EOF /etc/motd
Welcome, $USER
EOF
COPY --chmod=755 <<run.sh <<'conf' /opt/
#!/bin/sh
echo run
run.sh
key=$value
conf
ADD real.txt <<inline.txt /dst/
inline
inline.txt
RUN cat /etc/motd
