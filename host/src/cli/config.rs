//! Where the client finds its server and its token.
//!
//! Each setting is taken from the first place that has it: a flag, the
//! environment, the config file, then a default. A token may also come
//! from the file the daemon writes its first admin token to. Every value
//! remembers where it came from, so that an error can say "the token from
//! env `RIPOSTE_TOKEN` was refused" without ever printing the token.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Fail;

/// The server used when nothing names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8640";

/// What the command line says; the rest comes from the environment.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub server: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    Config(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "`{flag}`"),
            Source::Env(name) => write!(f, "env `{name}`"),
            Source::Config(path) => write!(f, "the config file `{}`", path.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// An API token. Its value is never displayed or debug-printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: String,
    /// Where it came from, for error messages.
    pub origin: TokenOrigin,
}

impl Token {
    /// The value, for the `Authorization` header only.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// How a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Given as a value.
    Inline(Source),
    /// Read from a file named by `source`.
    File { path: PathBuf, source: Source },
    /// The first admin token the daemon wrote to its data directory.
    DataDir(PathBuf),
}

impl fmt::Display for TokenOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenOrigin::Inline(source) => write!(f, "the token from {source}"),
            TokenOrigin::File { path, source } => {
                write!(f, "the token in `{}` (from {source})", path.display())
            }
            TokenOrigin::DataDir(path) => {
                write!(f, "the daemon's first admin token in `{}`", path.display())
            }
        }
    }
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub server_source: Source,
    /// `None` when nothing names a token; requests go without one.
    pub token: Option<Token>,
}

/// The client config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

/// Resolves the settings from `flags` and the environment `env`.
pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Fail> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let (config, config_path) = load_config(flags, &env)?;
    let config_source = || Source::Config(config_path.clone().unwrap_or_default());

    let (server, server_source) = if let Some(server) = &flags.server {
        (server.clone(), Source::Flag("--server"))
    } else if let Some(server) = env("RIPOSTE_SERVER") {
        (server, Source::Env("RIPOSTE_SERVER"))
    } else if let Some(server) = &config.server {
        (server.clone(), config_source())
    } else {
        (DEFAULT_SERVER.to_string(), Source::Default)
    };

    let token = if let Some(token) = &flags.token {
        Some(inline(token, Source::Flag("--token"))?)
    } else if let Some(path) = &flags.token_file {
        Some(read_token(path, Source::Flag("--token-file"))?)
    } else if let Some(token) = env("RIPOSTE_TOKEN") {
        Some(inline(&token, Source::Env("RIPOSTE_TOKEN"))?)
    } else if let Some(path) = env("RIPOSTE_TOKEN_FILE") {
        Some(read_token(
            Path::new(&path),
            Source::Env("RIPOSTE_TOKEN_FILE"),
        )?)
    } else if let Some(token) = &config.token {
        Some(inline(token, config_source())?)
    } else if let Some(path) = &config.token_file {
        // A relative path in the config file is relative to that file.
        let base = config_path.as_deref().and_then(Path::parent);
        let path = base.map_or_else(|| path.clone(), |base| base.join(path));
        Some(read_token(&path, config_source())?)
    } else {
        data_dir_token(&env)?
    };

    Ok(Settings {
        server,
        server_source,
        token,
    })
}

/// Reads the config file: the one named by `--config` or
/// `RIPOSTE_CONFIG`, which must exist, else the default one, if present.
fn load_config(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(ConfigFile, Option<PathBuf>), Fail> {
    let (path, named) = if let Some(path) = &flags.config {
        (path.clone(), true)
    } else if let Some(path) = env("RIPOSTE_CONFIG") {
        (PathBuf::from(path), true)
    } else if let Some(path) = default_config_path(env) {
        (path, false)
    } else {
        return Ok((ConfigFile::default(), None));
    };

    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if !named && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok((ConfigFile::default(), None));
        }
        Err(err) => {
            return Err(Fail::usage(format!(
                "cannot read the config file `{}`: {err}",
                path.display()
            )));
        }
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|err| {
        Fail::usage(format!("the config file `{}`: {err}", path.display())).hint(
            "expected JSON such as {\"server\": \"http://127.0.0.1:8640\", \
             \"token_file\": \"/etc/riposte/token\"}",
        )
    })?;
    if config.token.is_some() && config.token_file.is_some() {
        return Err(Fail::usage(format!(
            "the config file `{}` sets both `token` and `token_file`; keep one",
            path.display()
        )));
    }
    Ok((config, Some(path)))
}

/// `$XDG_CONFIG_HOME/riposte/cli.json`, else `~/.config/riposte/cli.json`.
fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(base.join("riposte").join("cli.json"))
}

/// `<data dir>/admin.token`, when the daemon has written it.
fn data_dir_token(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Token>, Fail> {
    let dir = env("RIPOSTE_DATA").unwrap_or_else(|| "riposte-data".into());
    let path = Path::new(&dir).join("admin.token");
    if !path.is_file() {
        return Ok(None);
    }
    let mut token = read_token(&path, Source::Default)?;
    token.origin = TokenOrigin::DataDir(path);
    Ok(Some(token))
}

fn inline(value: &str, source: Source) -> Result<Token, Fail> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Fail::usage(format!("the token from {source} is empty")));
    }
    Ok(Token {
        value: value.to_string(),
        origin: TokenOrigin::Inline(source),
    })
}

fn read_token(path: &Path, source: Source) -> Result<Token, Fail> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        Fail::usage(format!(
            "cannot read the token file `{}` (from {source}): {err}",
            path.display()
        ))
    })?;
    let value = text.trim();
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(Fail::usage(format!(
            "the token file `{}` (from {source}) does not hold one token; \
             expected a single line such as `rpt_...`",
            path.display()
        )));
    }
    Ok(Token {
        value: value.to_string(),
        origin: TokenOrigin::File {
            path: path.to_path_buf(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "riposte-cli-config-{name}-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn resolve_with(flags: &Flags, vars: &[(&str, &str)]) -> Result<Settings, Fail> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(flags, &|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let scratch = Scratch::new("defaults");
        let home = scratch.0.to_str().unwrap();
        let data = scratch.0.join("data");
        let settings = resolve_with(
            &Flags::default(),
            &[("HOME", home), ("RIPOSTE_DATA", data.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(settings.server, DEFAULT_SERVER);
        assert_eq!(settings.server_source, Source::Default);
        assert!(settings.token.is_none());
    }

    #[test]
    fn flags_beat_env_beat_config_beat_data_dir() {
        let scratch = Scratch::new("precedence");
        let config = scratch.file(
            "cli.json",
            r#"{"server": "http://config:1", "token_file": "config.token"}"#,
        );
        scratch.file("config.token", "rpt_config\n");
        let flag_file = scratch.file("flag.token", "rpt_flag_file");
        let env_file = scratch.file("env.token", "rpt_env_file");
        std::fs::create_dir_all(scratch.0.join("data")).unwrap();
        scratch.file("data/admin.token", "rpt_data\n");
        let data = scratch.0.join("data");
        let config_str = config.to_str().unwrap();
        let base_env = [
            ("RIPOSTE_CONFIG", config_str),
            ("RIPOSTE_DATA", data.to_str().unwrap()),
        ];

        // Everything set: the flags win.
        let flags = Flags {
            server: Some("http://flag:1".into()),
            token: Some("rpt_flag".into()),
            ..Flags::default()
        };
        let mut env = base_env.to_vec();
        env.extend([
            ("RIPOSTE_SERVER", "http://env:1"),
            ("RIPOSTE_TOKEN", "rpt_env"),
        ]);
        let settings = resolve_with(&flags, &env).unwrap();
        assert_eq!(settings.server, "http://flag:1");
        assert_eq!(settings.server_source, Source::Flag("--server"));
        let token = settings.token.unwrap();
        assert_eq!(token.value(), "rpt_flag");
        assert_eq!(token.origin, TokenOrigin::Inline(Source::Flag("--token")));

        // A token file flag beats the environment too.
        let flags = Flags {
            token_file: Some(flag_file.clone()),
            ..Flags::default()
        };
        let token = resolve_with(&flags, &env).unwrap().token.unwrap();
        assert_eq!(token.value(), "rpt_flag_file");

        // No flags: the environment wins over the config file.
        let settings = resolve_with(&Flags::default(), &env).unwrap();
        assert_eq!(settings.server, "http://env:1");
        assert_eq!(settings.server_source, Source::Env("RIPOSTE_SERVER"));
        assert_eq!(settings.token.unwrap().value(), "rpt_env");

        // A token file from the environment.
        let mut env_with_file = base_env.to_vec();
        env_with_file.push(("RIPOSTE_TOKEN_FILE", env_file.to_str().unwrap()));
        let token = resolve_with(&Flags::default(), &env_with_file)
            .unwrap()
            .token
            .unwrap();
        assert_eq!(token.value(), "rpt_env_file");
        assert_eq!(
            token.origin,
            TokenOrigin::File {
                path: env_file.clone(),
                source: Source::Env("RIPOSTE_TOKEN_FILE")
            }
        );

        // Only the config file: its token file is relative to it.
        let settings = resolve_with(&Flags::default(), &base_env).unwrap();
        assert_eq!(settings.server, "http://config:1");
        assert_eq!(settings.server_source, Source::Config(config.clone()));
        assert_eq!(settings.token.unwrap().value(), "rpt_config");

        // Nothing but the daemon's data directory.
        let settings = resolve_with(
            &Flags::default(),
            &[
                ("HOME", scratch.0.to_str().unwrap()),
                ("RIPOSTE_DATA", data.to_str().unwrap()),
            ],
        )
        .unwrap();
        let token = settings.token.unwrap();
        assert_eq!(token.value(), "rpt_data");
        assert_eq!(token.origin, TokenOrigin::DataDir(data.join("admin.token")));
    }

    #[test]
    fn the_default_config_file_is_read_from_xdg_or_home() {
        let scratch = Scratch::new("xdg");
        std::fs::create_dir_all(scratch.0.join("xdg/riposte")).unwrap();
        scratch.file(
            "xdg/riposte/cli.json",
            r#"{"server": "http://xdg:1", "token": "rpt_xdg"}"#,
        );
        let xdg = scratch.0.join("xdg");
        let settings = resolve_with(
            &Flags::default(),
            &[
                ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
                ("RIPOSTE_DATA", "/nonexistent"),
            ],
        )
        .unwrap();
        assert_eq!(settings.server, "http://xdg:1");
        assert_eq!(settings.token.unwrap().value(), "rpt_xdg");

        std::fs::create_dir_all(scratch.0.join("home/.config/riposte")).unwrap();
        scratch.file(
            "home/.config/riposte/cli.json",
            r#"{"server": "http://home:1"}"#,
        );
        let home = scratch.0.join("home");
        let settings = resolve_with(
            &Flags::default(),
            &[
                ("HOME", home.to_str().unwrap()),
                ("RIPOSTE_DATA", "/nonexistent"),
            ],
        )
        .unwrap();
        assert_eq!(settings.server, "http://home:1");
    }

    #[test]
    fn bad_config_and_token_files_are_refused_with_their_source() {
        let scratch = Scratch::new("bad");
        let missing = scratch.0.join("missing.json");
        let err = resolve_with(
            &Flags {
                config: Some(missing),
                ..Flags::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(
            err.message.contains("cannot read the config file"),
            "{err:?}"
        );

        let unknown = scratch.file("unknown.json", r#"{"sever": "x"}"#);
        let err = resolve_with(
            &Flags::default(),
            &[("RIPOSTE_CONFIG", unknown.to_str().unwrap())],
        )
        .unwrap_err();
        assert!(err.message.contains("unknown field `sever`"), "{err:?}");

        let both = scratch.file("both.json", r#"{"token": "a", "token_file": "b"}"#);
        let err = resolve_with(
            &Flags::default(),
            &[("RIPOSTE_CONFIG", both.to_str().unwrap())],
        )
        .unwrap_err();
        assert!(
            err.message.contains("both `token` and `token_file`"),
            "{err:?}"
        );

        let empty = scratch.file("empty.token", "\n");
        let err = resolve_with(
            &Flags {
                token_file: Some(empty),
                ..Flags::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(err.message.contains("(from `--token-file`)"), "{err:?}");
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let token = inline("rpt_very_secret", Source::Flag("--token")).unwrap();
        let shown = format!("{token:?} {}", token.origin);
        assert!(!shown.contains("rpt_very_secret"), "{shown}");
        assert!(shown.contains("`--token`"), "{shown}");
    }
}
