use super::funcs::*;
use super::*;
use serde_json::json;

#[test]
fn label_method() {
    let v = json!({"Labels": "a=1,k=v2"});
    assert_eq!(r(r#"{{.Label "k"}}"#, &v), "v2");
    assert_eq!(r(r#"{{.Label "nope"}}"#, &v), "");
    let m = json!({"Labels": {"k": "x"}});
    assert_eq!(r(r#"{{.Label "k"}}"#, &m), "x");
}

fn r(t: &str, v: &Value) -> String {
    render(t, v).unwrap_or_else(|e| panic!("{t}: {e:#}"))
}

fn c() -> Value {
    json!({
        "ID": "0123456789ab",
        "Names": "web",
        "Image": "nginx:latest",
        "Size": 1234,
        "Ratio": 1.5,
        "Big": 1000000.0,
        "Running": true,
        "Empty": "",
        "Labels": {"com.example.role": "front", "tier": "web"},
        "Ports": ["80/tcp", "443/tcp"],
        "Mounts": [{"Source": "/a", "Destination": "/b"}],
        "State": {"Status": "running", "Pid": 42},
        "Nothing": null
    })
}

#[test]
fn fields_and_values() {
    let v = c();
    assert_eq!(r("{{.ID}}", &v), "0123456789ab");
    assert_eq!(
        r("id={{.ID}} name={{.Names}}", &v),
        "id=0123456789ab name=web"
    );
    assert_eq!(r("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
    assert_eq!(r("{{.Missing}}", &v), "<no value>");
    assert_eq!(r("{{.Missing.Deeper}}", &v), "<no value>");
    assert_eq!(r("{{.Ratio}} {{.Big}} {{.Running}}", &v), "1.5 1e+06 true");
    assert_eq!(r("{{.Ports}}", &v), "[80/tcp 443/tcp]");
    assert_eq!(r("{{.Labels}}", &v), "map[com.example.role:front tier:web]");
    assert_eq!(r("{{.Mounts}}", &v), "[map[Destination:/b Source:/a]]");
    assert_eq!(
        r("{{.State}}", &json!({"State": {"X": null}})),
        "map[X:<nil>]"
    );
    assert_eq!(r("{{.}}", &json!("plain")), "plain");
    assert_eq!(r("no actions", &v), "no actions");
    assert!(render("{{.ID.X}}", &v)
        .unwrap_err()
        .to_string()
        .contains("can't evaluate field X in type string"));
}

#[test]
fn go_number_printing() {
    assert_eq!(go_float(1.5), "1.5");
    assert_eq!(go_float(123456.0), "123456");
    assert_eq!(go_float(1234567.0), "1.234567e+06");
    assert_eq!(go_float(0.0001), "0.0001");
    assert_eq!(go_float(0.00001), "1e-05");
    assert_eq!(go_float(-2.25), "-2.25");
    assert_eq!(go_float(100.0), "100");
    assert_eq!(go_float(1e21), "1e+21");
    assert_eq!(r("{{.}}", &json!(-7)), "-7");
    assert_eq!(r("{{.}}", &json!(u64::MAX)), "18446744073709551615");
}

#[test]
fn json_function_and_pipelines() {
    let v = c();
    assert_eq!(r("{{json .Ports}}", &v), r#"["80/tcp","443/tcp"]"#);
    assert_eq!(r("{{json .Names}}", &v), r#""web""#);
    assert_eq!(
        r("{{.Labels | json}}", &v),
        r#"{"com.example.role":"front","tier":"web"}"#
    );
    assert_eq!(r("{{json .Nothing}}", &v), "null");
    assert_eq!(
        r("{{json .}}", &json!({"a": [1, "<b>"]})),
        r#"{"a":[1,"<b>"]}"#
    );
    assert_eq!(r("{{.Names | upper | printf \"%s!\"}}", &v), "WEB!");
    assert_eq!(r("{{(index .Mounts 0).Source}}", &v), "/a");
    assert_eq!(r("{{len (split .Image \":\")}}", &v), "2");
}

#[test]
fn index_join_and_string_functions() {
    let v = c();
    assert_eq!(r(r#"{{index .Labels "com.example.role"}}"#, &v), "front");
    assert_eq!(r(r#"{{index .Labels "nope"}}"#, &v), "");
    assert_eq!(r("{{index .Ports 1}}", &v), "443/tcp");
    assert_eq!(r(r#"{{join .Ports ", "}}"#, &v), "80/tcp, 443/tcp");
    assert_eq!(r("{{lower \"MiXeD\"}} {{upper .Names}}", &v), "mixed WEB");
    assert_eq!(r("{{title \"hello wide-world\"}}", &v), "Hello Wide-World");
    assert_eq!(
        r("{{len .Ports}} {{len .Labels}} {{len .Names}}", &v),
        "2 2 3"
    );
    assert_eq!(r(r#"{{split "a,b,c" ","}}"#, &v), "[a b c]");
    assert_eq!(r("{{truncate .ID 4}}", &v), "0123");
    assert_eq!(r("[{{pad .Names 1 2}}]", &v), "[ web  ]");
    assert!(render("{{nosuch .X}}", &v)
        .unwrap_err()
        .to_string()
        .contains("function \"nosuch\" not defined"));
}

#[test]
fn printf_verbs() {
    let v = c();
    assert_eq!(r(r#"{{printf "%s %d" .Names .Size}}"#, &v), "web 1234");
    assert_eq!(
        r(r#"{{printf "%-6s|%5d|%05d" .Names .Size .Size}}"#, &v),
        "web   | 1234|01234"
    );
    assert_eq!(
        r(
            r#"{{printf "%.2f %v %q %t" .Ratio .Ratio .Names .Running}}"#,
            &v
        ),
        "1.50 1.5 \"web\" true"
    );
    assert_eq!(r(r#"{{printf "%x %X %o" 255 255 8}}"#, &v), "ff FF 10");
    assert_eq!(r(r#"{{printf "%d%%" 50}}"#, &v), "50%");
    assert_eq!(r(r#"{{printf "%d" .Names}}"#, &v), "%!d(string=web)");
    assert_eq!(r(r#"{{printf "%s %s" .Names}}"#, &v), "web %!s(MISSING)");
    assert_eq!(r(r#"{{printf "%s" .Names 1}}"#, &v), "web%!(EXTRA int=1)");
    assert_eq!(r(r#"{{printf "%v" .Ports}}"#, &v), "[80/tcp 443/tcp]");
    assert_eq!(r(r#"{{printf "%.3s" .Image}}"#, &v), "ngi");
    assert_eq!(r(r#"{{printf "%e" 1234.5}}"#, &v), "1.234500e+03");
    assert_eq!(r(r#"{{print "a" 1 2 "b"}}"#, &v), "a1 2b");
    assert_eq!(r(r#"{{println "a" 1}}"#, &v), "a 1\n");
}

#[test]
fn if_else() {
    let v = c();
    assert_eq!(r("{{if .Running}}up{{else}}down{{end}}", &v), "up");
    assert_eq!(r("{{if .Empty}}x{{else}}empty{{end}}", &v), "empty");
    assert_eq!(r("{{if .Missing}}x{{end}}", &v), "");
    assert_eq!(
        r(
            "{{if eq .Names \"db\"}}db{{else if eq .Names \"web\"}}web{{else}}?{{end}}",
            &v
        ),
        "web"
    );
    assert_eq!(
        r("{{if and .Running (gt .Size 1000)}}big{{end}}", &v),
        "big"
    );
    assert_eq!(
        r("{{if or .Empty .Names}}{{end}}{{or .Empty .Names}}", &v),
        "web"
    );
    assert_eq!(r("{{if not .Running}}a{{else}}b{{end}}", &v), "b");
    assert_eq!(
        r(
            "{{if ne .Size 1}}ne{{end}} {{if le 1 1}}le{{end}} {{if lt \"a\" \"b\"}}lt{{end}}",
            &v
        ),
        "ne le lt"
    );
    assert_eq!(r("{{if eq .State.Pid 1 2 42}}any{{end}}", &v), "any");
    assert_eq!(r("{{with .State}}{{.Status}}{{end}}", &v), "running");
    assert_eq!(r("{{with .Missing}}x{{else}}none{{end}}", &v), "none");
}

#[test]
fn range_rebinds_dot() {
    let v = c();
    assert_eq!(r("{{range .Ports}}<{{.}}>{{end}}", &v), "<80/tcp><443/tcp>");
    assert_eq!(
        r("{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}", &v),
        "/a:/b"
    );
    assert_eq!(
        r("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &v),
        "com.example.role=front;tier=web;"
    );
    assert_eq!(
        r("{{range $i, $p := .Ports}}{{$i}}:{{$p}} {{end}}", &v),
        "0:80/tcp 1:443/tcp "
    );
    assert_eq!(
        r("{{range .Ports}}{{$.Names}}/{{.}} {{end}}", &v),
        "web/80/tcp web/443/tcp "
    );
    assert_eq!(r("{{range .Nothing}}x{{else}}none{{end}}", &v), "none");
    assert_eq!(r("{{range .Missing}}x{{end}}", &v), "");
    assert_eq!(
        r("{{$n := .Names}}{{range .Ports}}{{$n}}{{end}}", &v),
        "webweb"
    );
    assert!(render("{{range .Names}}{{end}}", &v).is_err());
}

#[test]
fn trim_markers_and_comments() {
    let v = c();
    assert_eq!(r("a  {{- .Names -}}  b", &v), "awebb");
    assert_eq!(r("a {{.Names}} b", &v), "a web b");
    assert_eq!(
        r("{{range .Ports -}}\n  {{.}}\n{{- end}}", &v),
        "80/tcp443/tcp"
    );
    assert_eq!(r("x{{/* a comment */}}y", &v), "xy");
    assert_eq!(r("x {{- /* trimmed */ -}} y", &v), "xy");
    assert_eq!(r("{{-3}}", &v), "-3");
}

#[test]
fn parse_errors() {
    let v = c();
    for bad in [
        "{{.Names",
        "{{if .X}}no end",
        "{{end}}",
        "{{else}}",
        "{{}}",
        "{{.A | }}",
        "{{\"open}}",
        "{{(.A}}",
        "{{.A)}}",
        "{{template \"x\"}}",
    ] {
        let e = render(bad, &v).unwrap_err().to_string();
        assert!(e.starts_with("template"), "{bad}: {e}");
    }
    assert!(render("{{.Names 1}}", &v).is_err());
    assert!(render("{{$x}}", &v).is_err());
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
];

fn rows() -> Vec<Value> {
    vec![
        json!({"ID": "aaaaaaaaaaaa", "Image": "busybox", "Names": "one", "Labels": {"a": "1"}}),
        json!({"ID": "bbbbbbbbbbbb", "Image": "nginx:latest", "Names": "two", "Labels": {}}),
    ]
}

#[test]
fn list_default_table() {
    let out = format_list(
        None,
        "table {{.ID}}\t{{.Image}}\t{{.Names}}",
        HEADERS,
        &rows(),
    )
    .unwrap();
    assert_eq!(
        out,
        "CONTAINER ID   IMAGE          NAMES\n\
         aaaaaaaaaaaa   busybox        one\n\
         bbbbbbbbbbbb   nginx:latest   two\n"
    );
    // "table" alone means the default; a default without the "table " prefix works too
    assert_eq!(
        format_list(
            Some("table"),
            "{{.ID}}\t{{.Image}}\t{{.Names}}",
            HEADERS,
            &rows()
        )
        .unwrap(),
        out
    );
    // no rows: the header alone
    assert_eq!(
        format_list(None, "{{.ID}}\t{{.Names}}", HEADERS, &[]).unwrap(),
        "CONTAINER ID   NAMES\n"
    );
}

#[test]
fn list_table_with_template_and_escapes() {
    let out = format_list(
        Some(r"table {{.Names}}\t{{.ID}}\t{{.Other}}"),
        "",
        HEADERS,
        &rows(),
    )
    .unwrap();
    assert_eq!(
        out,
        "NAMES   CONTAINER ID   OTHER\n\
         one     aaaaaaaaaaaa   <no value>\n\
         two     bbbbbbbbbbbb   <no value>\n"
    );
    let out = format_list(
        Some(r#"table {{.Names}}\t{{index .Labels "a"}}"#),
        "",
        HEADERS,
        &rows(),
    )
    .unwrap();
    assert_eq!(out, "NAMES   LABELS\none     1\ntwo\n");
}

#[test]
fn list_json_and_plain_template() {
    assert_eq!(
        format_list(Some("json"), "", HEADERS, &rows()[..1]).unwrap(),
        "{\"ID\":\"aaaaaaaaaaaa\",\"Image\":\"busybox\",\"Labels\":{\"a\":\"1\"},\"Names\":\"one\"}\n"
    );
    assert_eq!(
        format_list(Some(r"{{.Names}}\t{{.Image}}"), "", HEADERS, &rows()).unwrap(),
        "one\tbusybox\ntwo\tnginx:latest\n"
    );
    assert_eq!(
        format_list(Some(r"{{.Names}}\n"), "", HEADERS, &rows()).unwrap(),
        "one\n\ntwo\n\n"
    );
    assert_eq!(
        format_list(Some("{{json .Labels}}"), "", HEADERS, &rows()).unwrap(),
        "{\"a\":\"1\"}\n{}\n"
    );
    assert!(format_list(Some("{{.Names"), "", HEADERS, &rows()).is_err());
    // a word starting with "table" is a plain template
    assert_eq!(
        format_list(Some("tables"), "", HEADERS, &rows()).unwrap(),
        "tables\ntables\n"
    );
}
