FROM busybox AS base
# keywords are case-insensitive, flag names are not
COPY --FROM=base a b
