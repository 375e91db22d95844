ARG BASE=alpine
FROM ${BASE:-busybox}:${TAG:+x} AS b
ENV A="a b" B='$A' C=${A%% *} D=${A#*a} E=${UNSET-def} F=${SPACE:?oops}
COPY --from=b --chown=${A}:x "src dir" ${DEST:-/d}/
ADD <<EOF /x
$A
EOF
ONBUILD COPY $X /y
EXPOSE ${P:-80}/tcp 443
WORKDIR \$HOME/${A}
RUN <<-'EOT' bash
	echo $A
	EOT
HEALTHCHECK --interval=1m30s --timeout=1.5s CMD ["true"]
