//! The agent's parameters, defined once: [`PARAMETERS`] feeds both the
//! meta-data Pacemaker reads and [`Params::from_env`], which reads the
//! `OCF_RESKEY_*` variables Pacemaker sets — so a default can never differ
//! between what the agent documents and what it does.

use isinit_shared::config::valid_level;
use std::path::PathBuf;
use std::time::Duration;

/// The type of a parameter's value, as the meta-data's `<content type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Free text.
    String,
}

impl Content {
    /// The spelling in the meta-data.
    pub fn as_str(self) -> &'static str {
        match self {
            Content::String => "string",
        }
    }
}

/// One instance parameter of `ocf:isinit:group`.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The name, as in `OCF_RESKEY_<name>` and `crm configure ... params`.
    pub name: &'static str,
    /// One line for `crm ra info`.
    pub shortdesc: &'static str,
    /// The full explanation.
    pub longdesc: &'static str,
    /// The value's type.
    pub content: Content,
    /// The value used when the parameter is unset or empty.
    pub default: Option<&'static str>,
    /// Whether a resource must set it.
    pub required: bool,
    /// Whether two resources may not share a value (two resources driving
    /// one group would fight over its level).
    pub unique: bool,
}

/// Name of the `group` parameter.
pub const GROUP: &str = "group";
/// Name of the `level` parameter.
pub const LEVEL: &str = "level";
/// Name of the `stop_level` parameter.
pub const STOP_LEVEL: &str = "stop_level";
/// Name of the `promoted_level` parameter.
pub const PROMOTED_LEVEL: &str = "promoted_level";
/// Name of the `socket` parameter.
pub const SOCKET: &str = "socket";
/// Name of the `config` parameter.
pub const CONFIG: &str = "config";
/// Name of the `binary` parameter.
pub const BINARY: &str = "binary";

/// Every parameter, in the order `crm ra info` shows them.
pub const PARAMETERS: &[ParamSpec] = &[
    ParamSpec {
        name: GROUP,
        shortdesc: "The isinit resource group",
        longdesc: "The resource group of the isinittab that this resource switches between levels. \
                   It must be a group of the isinittab; only one resource may manage a group.",
        content: Content::String,
        default: None,
        required: true,
        unique: true,
    },
    ParamSpec {
        name: LEVEL,
        shortdesc: "The level the group runs at when started",
        longdesc: "start tells the group this level and succeeds once the group has settled there \
                   (DONE or PASSED) with every respawn entry of the level running; a FAILED test fails \
                   the start. For a promotable clone this is the unpromoted level.",
        content: Content::String,
        default: Some("run"),
        required: false,
        unique: false,
    },
    ParamSpec {
        name: STOP_LEVEL,
        shortdesc: "The level the group is told on stop",
        longdesc: "stop tells the group this level and succeeds once no process of the group is left \
                   except those of entries that have this level. Usually a level no entry has.",
        content: Content::String,
        default: Some("0"),
        required: false,
        unique: false,
    },
    ParamSpec {
        name: PROMOTED_LEVEL,
        shortdesc: "The level of the promoted role (promotable clones)",
        longdesc: "For a promotable clone: promote tells the group this level, demote tells it the \
                   level parameter, and monitor reports the promoted role while the group is here. \
                   Empty: the resource is not promotable and promote/demote are not implemented.",
        content: Content::String,
        default: Some(""),
        required: false,
        unique: false,
    },
    ParamSpec {
        name: SOCKET,
        shortdesc: "The isinit daemon's control socket",
        longdesc: "The control socket of the isinit daemon on this node. Empty: ISINIT_SOCKET, else the \
                   :::socket: directive of the isinittab, else /var/run/is/init.s — as isinit tell \
                   resolves it.",
        content: Content::String,
        default: Some(""),
        required: false,
        unique: false,
    },
    ParamSpec {
        name: CONFIG,
        shortdesc: "The isinittab",
        longdesc: "The isinittab validate-all and start check the group against, and whose :::socket: \
                   directive is used when socket is empty. Empty: ISINIT_CONFIG, else /etc/isinittab.",
        content: Content::String,
        default: Some(""),
        required: false,
        unique: false,
    },
    ParamSpec {
        name: BINARY,
        shortdesc: "The isinit binary",
        longdesc: "The isinit command the agent runs (a name looked up in PATH, or a path). Missing: \
                   stop succeeds (nothing of isinit can be running), a probe reports not running, \
                   meta-data is still printed, every other action fails with OCF_ERR_INSTALLED.",
        content: Content::String,
        default: Some("isinit"),
        required: false,
        unique: false,
    },
];

/// The documented default of a parameter; an empty default means unset.
fn default_of(name: &str) -> Option<&'static str> {
    PARAMETERS.iter().find(|p| p.name == name).and_then(|p| p.default).filter(|d| !d.is_empty())
}

/// Why the parameters cannot be used (`OCF_ERR_CONFIGURED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A required parameter is unset.
    #[error("parameter {0} is required")]
    Missing(&'static str),
    /// A level parameter is not a level label.
    #[error("parameter {name}={value:?} is not a level (non-empty, no ':', ',' or whitespace)")]
    NotALevel {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// Two level parameters name the same level, so the agent could not
    /// tell the roles apart.
    #[error("parameters {0} and {1} must name different levels")]
    SameLevel(&'static str, &'static str),
}

/// The parameters of one call, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// `group`.
    pub group: String,
    /// `level`.
    pub level: String,
    /// `stop_level`.
    pub stop_level: String,
    /// `promoted_level`; `None` when the resource is not promotable.
    pub promoted_level: Option<String>,
    /// `socket`; `None`: resolve as the command line does.
    pub socket: Option<PathBuf>,
    /// `config`; `None`: resolve as the command line does.
    pub config: Option<PathBuf>,
    /// `binary`.
    pub binary: String,
}

impl Params {
    /// Reads `OCF_RESKEY_<name>` through `env` (the process environment in
    /// production, a map in tests); an empty value counts as unset.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Params, ParamError> {
        let get = |name: &'static str| -> Option<String> {
            env(&format!("OCF_RESKEY_{name}")).filter(|v| !v.is_empty()).or_else(|| default_of(name).map(String::from))
        };
        let group = get(GROUP).ok_or(ParamError::Missing(GROUP))?;
        let level_of = |name: &'static str| -> Result<Option<String>, ParamError> {
            match get(name) {
                Some(value) if !valid_level(&value) => Err(ParamError::NotALevel { name, value }),
                other => Ok(other),
            }
        };
        let level = level_of(LEVEL)?.ok_or(ParamError::Missing(LEVEL))?;
        let stop_level = level_of(STOP_LEVEL)?.ok_or(ParamError::Missing(STOP_LEVEL))?;
        let promoted_level = level_of(PROMOTED_LEVEL)?;
        if level == stop_level {
            return Err(ParamError::SameLevel(LEVEL, STOP_LEVEL));
        }
        if let Some(p) = &promoted_level {
            if *p == level {
                return Err(ParamError::SameLevel(PROMOTED_LEVEL, LEVEL));
            }
            if *p == stop_level {
                return Err(ParamError::SameLevel(PROMOTED_LEVEL, STOP_LEVEL));
            }
        }
        Ok(Params {
            group,
            level,
            stop_level,
            promoted_level,
            socket: get(SOCKET).map(PathBuf::from),
            config: get(CONFIG).map(PathBuf::from),
            binary: get(BINARY).ok_or(ParamError::Missing(BINARY))?,
        })
    }
}

/// What Pacemaker says about the operation being run (`OCF_RESKEY_CRM_meta_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpMeta {
    /// How long Pacemaker lets the operation run before it kills the agent.
    pub timeout: Duration,
}

/// The timeout assumed when Pacemaker sets none (its own default, 20 s).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(20);

impl OpMeta {
    /// Reads `OCF_RESKEY_CRM_meta_timeout` (milliseconds); unset, zero or
    /// unreadable falls back to Pacemaker's default.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> OpMeta {
        let timeout = env("OCF_RESKEY_CRM_meta_timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_OP_TIMEOUT);
        OpMeta { timeout }
    }

    /// How long the agent itself may wait: the timeout less a margin to
    /// answer in, so Pacemaker gets our reason instead of killing us.
    pub fn budget(&self) -> Duration {
        let margin = (self.timeout / 10).min(Duration::from_secs(2));
        self.timeout.saturating_sub(margin)
    }
}
