//! `info` and `version`.

use super::stats::bytes_size;
use super::*;

// ------------------------------------------------------------------ info, version

fn client_info() -> Value {
    json!({
        "Debug": false,
        "Context": "default",
        "Plugins": [],
        "Warnings": null,
    })
}

pub fn info(engine: &Engine, a: InfoArgs) -> Result<i32> {
    let mut v = engine.info().map_err(daemon)?;
    v["ClientInfo"] = client_info();
    if let Some(f) = &a.format {
        println!("{}", template::render(f, &v)?);
        return Ok(0);
    }
    print!("{}", info_text(&v));
    Ok(0)
}

/// docker info's text layout.
pub fn info_text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        x => x.to_string(),
    };
    let mut o = String::new();
    let mut line = |t: String| {
        o.push_str(&t);
        o.push('\n');
    };
    line("Client:".into());
    line(format!(" Version:    {}", env!("CARGO_PKG_VERSION")));
    line(" Context:    default".into());
    line(" Debug Mode: false".into());
    line(String::new());
    line("Server:".into());
    line(format!(" Containers: {}", s("Containers")));
    line(format!("  Running: {}", s("ContainersRunning")));
    line(format!("  Paused: {}", s("ContainersPaused")));
    line(format!("  Stopped: {}", s("ContainersStopped")));
    line(format!(" Images: {}", s("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    for kv in v["DriverStatus"].as_array().into_iter().flatten() {
        line(format!(
            "  {}: {}",
            kv[0].as_str().unwrap_or(""),
            kv[1].as_str().unwrap_or("")
        ));
    }
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    line(" Plugins:".into());
    for k in ["Volume", "Network", "Log"] {
        let l: Vec<&str> = v["Plugins"][k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        line(format!("  {k}: {}", l.join(" ")));
    }
    line(format!(
        " Swarm: {}",
        v["Swarm"]["LocalNodeState"].as_str().unwrap_or("inactive")
    ));
    let rts: Vec<&String> = v["Runtimes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    line(format!(
        " Runtimes: {}",
        rts.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    ));
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    line(format!(" Init Binary: {}", s("InitBinary")));
    line(" Security Options:".into());
    for l in security_option_lines(v) {
        line(l);
    }
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", s("NCPU")));
    line(format!(
        " Total Memory: {}",
        bytes_size(v["MemTotal"].as_u64().unwrap_or(0))
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" ID: {}", s("ID")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    line(" Debug Mode: false".into());
    for (k, label) in [
        ("HttpProxy", "HTTP Proxy"),
        ("HttpsProxy", "HTTPS Proxy"),
        ("NoProxy", "No Proxy"),
    ] {
        if !s(k).is_empty() {
            line(format!(" {label}: {}", s(k)));
        }
    }
    line(" Experimental: false".into());
    line(" Insecure Registries:".into());
    for r in v["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        line(format!("  {r}"));
    }
    line(format!(
        " Live Restore Enabled: {}",
        v["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    ));
    o
}

/// `info`'s "Security Options" entries as docker prints them: `name=seccomp,profile=builtin`
/// becomes `  seccomp` and `   Profile: builtin`.
fn security_option_lines(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for opt in v["SecurityOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let mut name = "";
        let mut rest = Vec::new();
        for kv in opt.split(',') {
            match kv.split_once('=') {
                Some(("name", n)) => name = n,
                Some((k, val)) => rest.push((k, val)),
                None => {}
            }
        }
        out.push(format!("  {name}"));
        for (k, val) in rest {
            let mut k = k.to_string();
            if let Some(f) = k.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            out.push(format!("   {k}: {val}"));
        }
    }
    out
}

pub fn version(engine: &Engine, a: InfoArgs) -> Result<i32> {
    let server = engine.version();
    let arch = engine::system::version::go_arch();
    let v = json!({
        "Client": {
            "Platform": {"Name": "berth"},
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": engine::system::version::API_VERSION,
            "DefaultAPIVersion": engine::system::version::API_VERSION,
            "GitCommit": "",
            "GoVersion": "rustc",
            "Os": "linux",
            "Arch": arch,
            "BuildTime": "",
            "Context": "default",
        },
        "Server": server,
    });
    if let Some(f) = &a.format {
        println!("{}", template::render(f, &v)?);
        return Ok(0);
    }
    let c = &v["Client"];
    let s = &v["Server"];
    let g = |x: &Value, k: &str| x[k].as_str().unwrap_or("").to_string();
    let mut o = String::new();
    o.push_str("Client:\n");
    o.push_str(&format!(" Version:           {}\n", g(c, "Version")));
    o.push_str(&format!(" API version:       {}\n", g(c, "ApiVersion")));
    o.push_str(&format!(" Go version:        {}\n", g(c, "GoVersion")));
    o.push_str(&format!(" Git commit:        {}\n", g(c, "GitCommit")));
    o.push_str(&format!(" Built:             {}\n", g(c, "BuildTime")));
    o.push_str(&format!(" OS/Arch:           linux/{arch}\n"));
    o.push_str(" Context:           default\n\n");
    o.push_str(&format!(
        "Server: {}\n",
        s["Platform"]["Name"].as_str().unwrap_or("")
    ));
    o.push_str(" Engine:\n");
    o.push_str(&format!("  Version:          {}\n", g(s, "Version")));
    o.push_str(&format!(
        "  API version:      {} (minimum version {})\n",
        g(s, "ApiVersion"),
        g(s, "MinAPIVersion")
    ));
    o.push_str(&format!("  Go version:       {}\n", g(s, "GoVersion")));
    o.push_str(&format!("  Git commit:       {}\n", g(s, "GitCommit")));
    o.push_str(&format!("  Built:            {}\n", g(s, "BuildTime")));
    o.push_str(&format!(
        "  OS/Arch:          {}/{}\n",
        g(s, "Os"),
        g(s, "Arch")
    ));
    o.push_str("  Experimental:     false\n");
    print!("{o}");
    Ok(0)
}
