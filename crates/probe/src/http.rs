//! HTTP checks: status, security headers, cookies, CORS, forbidden headers, the redirect from
//! plain HTTP. Every request is pinned to the target's address (the URL's host only names it).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::expect::{CspExpectation, HttpExpectation};
use crate::report::Check;
use crate::tls::{Roots, provider};

/// An origin no site has: a CORS answer naming `*` or echoing it would do so for anyone.
const PROBE_ORIGIN: &str = "https://portcullis-probe.invalid";

fn client(
    url: &reqwest::Url,
    addr: IpAddr,
    roots: &Roots,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots.store.clone())
        .with_no_client_auth();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .no_proxy()
        .resolve(&host, SocketAddr::new(addr, port))
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| e.to_string())
}

/// What the checks read of a response: its status and headers.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Response, String> {
    let r = client
        .get(url)
        .header("Origin", PROBE_ORIGIN)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    Ok(Response {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
    })
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The checks of one HTTP expectation against one address.
pub async fn check(
    target: &str,
    exp: &HttpExpectation,
    addr: IpAddr,
    roots: &Roots,
    timeout: Duration,
) -> Vec<Check> {
    let controls = exp.controls();
    let mk = crate::report::checker(target, &controls);
    let mut out = Vec::new();
    let url = match reqwest::Url::parse(&exp.url) {
        Ok(u) => u,
        Err(e) => {
            out.push(mk(
                "http",
                "a response".into(),
                None,
                true,
                format!("bad URL: {e}"),
            ));
            return out;
        }
    };
    let response = match client(&url, addr, roots, timeout) {
        Ok(c) => get(&c, url.as_str()).await,
        Err(e) => Err(e),
    };
    let r = match response {
        Ok(r) => r,
        Err(e) => {
            out.push(mk(
                "http",
                "a response".into(),
                None,
                true,
                format!("no response: {e}"),
            ));
            return out;
        }
    };
    out.extend(judge_response(target, exp, &r));
    if let Some(plain) = exp.redirect_https.as_ref().and_then(|r| r.plain_url(&url)) {
        out.push(redirect_check(&plain, &url, addr, roots, timeout, &mk).await);
    }
    out
}

/// The checks of one HTTP expectation on a response received (status, security headers,
/// cookies, CORS, forbidden headers; the redirect from plain HTTP needs a second request and
/// is [`check`]'s).
pub fn judge_response(target: &str, exp: &HttpExpectation, r: &Response) -> Vec<Check> {
    let controls = exp.controls();
    let mk = crate::report::checker(target, &controls);
    let mut out = Vec::new();
    let h = |name: &str| -> Option<String> {
        let values: Vec<String> = r
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };

    if let Some(want) = exp.status {
        out.push(mk(
            "http-status",
            format!("status {want}"),
            Some(format!("status {}", r.status)),
            r.status != want,
            format!("status {}", r.status),
        ));
    }

    if let Some(min) = exp.hsts_min_max_age {
        let v = h("strict-transport-security");
        let age = v.as_deref().and_then(max_age);
        let (dev, msg) = match (&v, age) {
            (None, _) => (true, "header missing".to_string()),
            (Some(_), None) => (true, "no max-age".to_string()),
            (Some(_), Some(a)) if a < min => (true, format!("max-age {a} below {min}")),
            (Some(_), Some(a)) => (false, format!("max-age {a}")),
        };
        out.push(mk(
            "header",
            format!("strict-transport-security max-age>={min}"),
            v,
            dev,
            msg,
        ));
    }

    let csp = h("content-security-policy");
    if let Some(want) = &exp.csp {
        let strict = matches!(want, CspExpectation::Mode(m) if m == "strict");
        if strict || matches!(want, CspExpectation::Present(true)) {
            let lower = csp.as_deref().unwrap_or("").to_ascii_lowercase();
            let unsafe_parts: Vec<&str> = ["'unsafe-inline'", "'unsafe-eval'"]
                .into_iter()
                .filter(|p| lower.contains(p))
                .collect();
            let (dev, msg) = if csp.is_none() {
                (true, "header missing".to_string())
            } else if strict && !unsafe_parts.is_empty() {
                (true, format!("allows {}", unsafe_parts.join(" and ")))
            } else {
                (false, "present".to_string())
            };
            out.push(mk(
                "header",
                if strict {
                    "content-security-policy without unsafe-inline and unsafe-eval".into()
                } else {
                    "content-security-policy".into()
                },
                csp.clone(),
                dev,
                msg,
            ));
        }
    }

    if exp.nosniff {
        let v = h("x-content-type-options");
        let ok = v
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("nosniff"));
        out.push(mk(
            "header",
            "x-content-type-options nosniff".into(),
            v,
            !ok,
            if ok {
                "nosniff".into()
            } else {
                "not nosniff".into()
            },
        ));
    }

    if exp.frame_options {
        let xfo = h("x-frame-options");
        let ancestors = csp
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("frame-ancestors"));
        let ok = ancestors
            || xfo.as_deref().is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "deny" || v == "sameorigin"
            });
        out.push(mk(
            "header",
            "x-frame-options or csp frame-ancestors".into(),
            xfo.or_else(|| ancestors.then(|| "frame-ancestors".to_string())),
            !ok,
            if ok {
                "framing restricted".into()
            } else {
                "framing not restricted".into()
            },
        ));
    }

    if exp.referrer_policy {
        let v = h("referrer-policy");
        out.push(mk(
            "header",
            "referrer-policy".into(),
            v.clone(),
            v.is_none(),
            if v.is_some() {
                "present".into()
            } else {
                "header missing".into()
            },
        ));
    }

    if let Some(want) = &exp.cookies {
        for raw in r.headers.get_all("set-cookie") {
            let raw = String::from_utf8_lossy(raw.as_bytes()).into_owned();
            let name = raw
                .split(['=', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let attrs: Vec<String> = raw
                .split(';')
                .skip(1)
                .map(|a| {
                    a.split('=')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .collect();
            let same_site = raw
                .split(';')
                .skip(1)
                .filter_map(|a| a.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("samesite"))
                .map(|(_, v)| v.trim().to_ascii_lowercase());
            let mut missing = Vec::new();
            if want.secure && !attrs.iter().any(|a| a == "secure") {
                missing.push("Secure");
            }
            if want.http_only && !attrs.iter().any(|a| a == "httponly") {
                missing.push("HttpOnly");
            }
            if want.same_site && !matches!(same_site.as_deref(), Some("strict" | "lax")) {
                missing.push("SameSite=Lax|Strict");
            }
            let mut expected = Vec::new();
            if want.secure {
                expected.push("Secure");
            }
            if want.http_only {
                expected.push("HttpOnly");
            }
            if want.same_site {
                expected.push("SameSite");
            }
            out.push(mk(
                "cookie",
                format!("cookie {name}: {}", expected.join(", ")),
                Some(format!("cookie {name}: {}", attrs.join(", "))),
                !missing.is_empty(),
                if missing.is_empty() {
                    format!("cookie {name} as declared")
                } else {
                    format!("cookie {name} lacks {}", missing.join(", "))
                },
            ));
        }
    }

    if exp.no_wildcard_cors_with_credentials {
        let origin = h("access-control-allow-origin");
        let creds = h("access-control-allow-credentials")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let bad = creds && origin.as_deref().is_some_and(|o| o.trim() == "*");
        out.push(mk(
            "cors",
            "no access-control-allow-origin * with credentials".into(),
            Some(format!(
                "access-control-allow-origin: {}; credentials: {creds}",
                origin.as_deref().unwrap_or("none")
            )),
            bad,
            if bad {
                "any origin may make credentialed requests".into()
            } else {
                "no wildcard with credentials".into()
            },
        ));
    }

    for name in &exp.forbidden_headers {
        let lower = name.to_ascii_lowercase();
        let (header, version_only) = match lower.as_str() {
            "server-version" => ("server", true),
            "x-powered-by-version" => ("x-powered-by", true),
            other => (other, false),
        };
        let v = h(header);
        let bad = match &v {
            None => false,
            Some(s) if version_only => carries_version(s),
            Some(_) => true,
        };
        out.push(mk(
            "forbidden-header",
            if version_only {
                format!("no {header} header with a version")
            } else {
                format!("no {header} header")
            },
            v.clone(),
            bad,
            if bad {
                format!("sends {header}: {}", v.unwrap_or_default())
            } else {
                format!("{header} as declared")
            },
        ));
    }

    out
}

async fn redirect_check(
    plain: &reqwest::Url,
    https: &reqwest::Url,
    addr: IpAddr,
    roots: &Roots,
    timeout: Duration,
    mk: &impl Fn(&str, String, Option<String>, bool, String) -> Check,
) -> Check {
    let expected = format!(
        "{plain} redirects to https://{}",
        https.host_str().unwrap_or("")
    );
    let r = match client(plain, addr, roots, timeout) {
        Ok(c) => get(&c, plain.as_str()).await,
        Err(e) => Err(e),
    };
    match r {
        Err(e) => mk(
            "http-redirect",
            expected,
            None,
            true,
            format!("no answer over plain HTTP: {e}"),
        ),
        Ok(r) => {
            let (ok, location) = redirects_to_https(plain, &r);
            mk(
                "http-redirect",
                expected,
                Some(format!(
                    "status {}{}",
                    r.status,
                    location
                        .map(|l| format!(", location {l}"))
                        .unwrap_or_default()
                )),
                !ok,
                if ok {
                    "redirects to HTTPS on the same host".into()
                } else {
                    "plain HTTP does not redirect to HTTPS on the same host".into()
                },
            )
        }
    }
}

/// Whether the answer `r` to the plain-HTTP request for `plain` redirects to HTTPS on the same
/// host, and the `Location` it names.
pub fn redirects_to_https(plain: &reqwest::Url, r: &Response) -> (bool, Option<String>) {
    let location = r
        .headers
        .get("location")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let target = location.as_deref().and_then(|l| plain.join(l).ok());
    let ok = matches!(r.status, 301 | 302 | 303 | 307 | 308)
        && target.as_ref().is_some_and(|t| {
            t.scheme() == "https"
                && t.host_str().map(|h| h.to_ascii_lowercase())
                    == plain.host_str().map(|h| h.to_ascii_lowercase())
        });
    (ok, location)
}

fn max_age(v: &str) -> Option<u64> {
    v.split(';').find_map(|d| {
        let (k, val) = d.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| val.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

/// `nginx/1.25.3`, `Apache/2.4.57 (Debian)`: a product token with a version.
fn carries_version(v: &str) -> bool {
    v.split_whitespace().any(|token| {
        token
            .split_once('/')
            .is_some_and(|(_, ver)| ver.chars().next().is_some_and(|c| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_and_versions() {
        assert_eq!(
            max_age("max-age=31536000; includeSubDomains"),
            Some(31_536_000)
        );
        assert_eq!(max_age("includeSubDomains; max-age=\"60\""), Some(60));
        assert_eq!(max_age("includeSubDomains"), None);
        assert!(carries_version("nginx/1.25.3"));
        assert!(carries_version("Apache/2.4.57 (Debian)"));
        assert!(!carries_version("nginx"));
        assert!(!carries_version("cloudflare"));
    }
}
