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

/// `--secret id=ID[,type=file|env][,src=FILE|,env=VAR]` (docker buildx's syntax): the id and
/// the secret's value. With neither `src` nor `env`, the environment variable named like the
/// id, as buildx does.
pub fn secret_spec(spec: &str) -> Result<(String, crate::builder::Secret)> {
    let bad = |m: &str| Error::Invalid(format!("invalid secret {spec:?}: {m}"));
    let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
    for f in spec.split(',') {
        match f.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("type", v)) => kind = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(v.to_string()),
            Some(("env", v)) => env = Some(v.to_string()),
            _ => return Err(bad(&format!("unexpected field {f:?}"))),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("it needs an id"))?;
    if id.contains('/') {
        return Err(bad("the id must not contain '/'"));
    }
    let from_env = |var: &str| {
        std::env::var_os(var)
            .map(std::os::unix::ffi::OsStringExt::into_vec)
            .ok_or_else(|| bad(&format!("environment variable {var} is not set")))
    };
    let value = match (kind.as_deref(), src, env) {
        (Some("env"), Some(v), None) | (_, None, Some(v)) => from_env(&v)?,
        (None | Some("file"), Some(p), None) => {
            std::fs::read(&p).map_err(|e| bad(&format!("read {p}: {e}")))?
        }
        (None, None, None) => from_env(&id)?,
        (Some(t), _, _) if t != "file" && t != "env" => {
            return Err(bad(&format!("unsupported type {t:?}")))
        }
        _ => return Err(bad("give either src or env")),
    };
    Ok((id, crate::builder::Secret(value)))
}

/// `--ssh ID[=SOCKET]`: the id and the agent socket (default `$SSH_AUTH_SOCK`).
pub fn ssh_spec(spec: &str) -> Result<(String, std::path::PathBuf)> {
    let (id, path) = match spec.split_once('=') {
        Some((id, p)) => (id.to_string(), p.to_string()),
        None => (
            spec.to_string(),
            std::env::var("SSH_AUTH_SOCK").map_err(|_| {
                Error::Invalid(format!(
                    "invalid ssh {spec:?}: no socket given and SSH_AUTH_SOCK is not set"
                ))
            })?,
        ),
    };
    if id.is_empty() || path.contains(',') {
        return Err(Error::Invalid(format!(
            "invalid ssh {spec:?}: expected ID[=SOCKET] (one agent socket)"
        )));
    }
    Ok((id, std::path::PathBuf::from(path)))
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
    fn secret_and_ssh_specs() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tok");
        std::fs::write(&f, "s3cret").unwrap();
        let (id, v) = secret_spec(&format!("id=tok,src={}", f.display())).unwrap();
        assert_eq!((id.as_str(), v.0.as_slice()), ("tok", &b"s3cret"[..]));
        std::env::set_var("BERTH_TEST_SECRET_SPEC", "from-env");
        let (_, v) = secret_spec("id=x,env=BERTH_TEST_SECRET_SPEC").unwrap();
        assert_eq!(v.0, b"from-env");
        let (_, v) = secret_spec("id=BERTH_TEST_SECRET_SPEC").unwrap();
        assert_eq!(v.0, b"from-env");
        for bad in [
            "src=/x",
            "id=a/b,src=/x",
            "id=x,src=/nonexistent/x",
            "id=x,kind=y",
        ] {
            assert!(secret_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ssh_spec("default=/tmp/agent.sock").unwrap(),
            (
                "default".to_string(),
                std::path::PathBuf::from("/tmp/agent.sock")
            )
        );
        assert!(ssh_spec("=/x").is_err());
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
