//! The way into a build that `berth build` and `POST /build` share: the Dockerfile in the
//! context, dockerd's messages for a missing or malformed one, the line the client prints
//! before it sends the context, and the exit code a failed build gives the client.

use crate::context::Context;
use crate::parser::Dockerfile;
use engine::{Error, Result};

/// `docker build`'s first line (the client's, printed before it sends the context).
pub fn context_line(ctx: &Context) -> String {
    format!(
        "Sending build context to Docker daemon  {}",
        crate::builder::human(ctx.size())
    )
}

/// Parse the Dockerfile `text` (`name` for messages); a syntax error in dockerd's words,
/// `dockerfile parse error line N: ...`.
pub fn parse(text: &str, name: &str) -> Result<Dockerfile> {
    crate::parse(text, name).map_err(|e| {
        // the parser's message is `{file}:{line}: {what}`: dockerd leaves the file out
        let what = e
            .to_string()
            .splitn(3, ": ")
            .skip(1)
            .collect::<Vec<_>>()
            .join(": ");
        Error::Invalid(format!("dockerfile parse error line {}: {what}", e.line))
    })
}

/// The Dockerfile at `name` in the context (`Dockerfile` when empty; never outside the
/// context), read and parsed. dockerd's `Cannot locate specified Dockerfile: NAME` when it is
/// not there.
pub fn dockerfile_in(ctx: &Context, name: &str) -> Result<Dockerfile> {
    let name = if name.is_empty() { "Dockerfile" } else { name };
    let missing = || Error::Invalid(format!("Cannot locate specified Dockerfile: {name}"));
    let rel = engine::volumes::clean(name)
        .trim_start_matches('/')
        .to_string();
    let canon = std::fs::canonicalize(ctx.root.join(&rel)).map_err(|_| missing())?;
    if !canon.starts_with(&ctx.root) || !canon.is_file() {
        return Err(missing());
    }
    let text = std::fs::read_to_string(&canon)
        .map_err(|e| Error::Invalid(format!("reading the Dockerfile {name}: {e}")))?;
    parse(&text, name)
}

/// The exit code of a failed build: a failing RUN's own (`... returned a non-zero code: N`),
/// else 1.
pub fn exit_code(message: &str) -> i32 {
    message
        .rsplit_once("returned a non-zero code: ")
        .and_then(|(_, c)| c.trim().parse::<i32>().ok())
        .filter(|c| *c > 0 && *c < 256)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = parse("FROM busybox\nFOO bar\n", "Dockerfile").unwrap_err();
        assert_eq!(
            e.to_string(),
            "dockerfile parse error line 2: unknown instruction: FOO"
        );
        assert_eq!(
            exit_code("The command '/bin/sh -c exit 9' returned a non-zero code: 9"),
            9
        );
        assert_eq!(exit_code("something else"), 1);
        assert_eq!(exit_code("returned a non-zero code: 300"), 1);
    }

    #[test]
    fn dockerfile_stays_in_the_context() {
        let d = tempfile::tempdir().unwrap();
        let ctx_dir = d.path().join("ctx");
        std::fs::create_dir_all(ctx_dir.join("sub")).unwrap();
        std::fs::write(ctx_dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(ctx_dir.join("sub/Other"), "FROM busybox\n").unwrap();
        std::fs::write(d.path().join("Outside"), "FROM busybox\n").unwrap();
        std::os::unix::fs::symlink("../Outside", ctx_dir.join("link")).unwrap();
        let ctx = Context::from_dir(&ctx_dir).unwrap();
        assert_eq!(dockerfile_in(&ctx, "").unwrap().stages[0].base, "scratch");
        assert_eq!(
            dockerfile_in(&ctx, "sub/Other").unwrap().stages[0].base,
            "busybox"
        );
        for bad in ["../Outside", "link", "nope", "sub"] {
            let e = dockerfile_in(&ctx, bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("Cannot locate specified Dockerfile: {bad}"),
                "{bad}"
            );
        }
    }
}
