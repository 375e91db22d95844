from busybox AS base
run echo lower
Cmd ["x"]
eNv k=v
copy --from=base a b
