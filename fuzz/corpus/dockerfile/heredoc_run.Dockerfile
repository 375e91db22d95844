FROM busybox
RUN <<EOF
echo one
echo "$HOME"
EOF
RUN <<-EOT bash
	echo tabs stripped
	EOT
RUN <<'A' cat >/a && cat <<"B" >/b
no $expansion
A
nor $here
B
RUN python3 <<PY
print("hi")
PY
RUN echo "<<NOTHEREDOC" && echo done
