FROM busybox
LABEL version="1.0" description="a label with spaces"
LABEL "com.example.vendor"="ACME Inc" maintainer=me@example.com
LABEL legacy form value
LABEL multi.line="one" \
      multi.two=two
