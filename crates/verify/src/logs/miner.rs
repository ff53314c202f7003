//! A streaming log-template miner in the manner of Drain (He et al., ICWS 2017): lines are
//! masked and split into tokens, routed through a fixed-depth tree (token count, then the first
//! tokens), and matched against the templates in the leaf by the share of equal tokens; a line
//! close enough merges into the template (differing positions become `<*>`), otherwise it
//! starts a new one.
//!
//! Tokens are interned to integers once, so matching compares integers; masking is
//! hand-written (see [`super::mask`]). Optional regex masks (`patterns`) run before
//! tokenising, for per-system settings like those of the published benchmark.

use regex::bytes::Regex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::mask::{Masked, Masking};

/// The token id of `<*>`.
pub const WILDCARD: u32 = 0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MinerConfig {
    /// Depth of the parse tree (Drain's `depth`, at least 3): root, token count, `depth - 3`
    /// levels of leading tokens, and the leaf.
    pub depth: usize,
    /// Share of equal tokens for a line to join a template (Drain's `st`).
    pub similarity: f64,
    /// Children per tree node before new tokens share the `<*>` child.
    pub max_children: usize,
    pub masking: Masking,
    /// Characters that separate tokens besides white space (e.g. `=`, `,`).
    pub extra_delimiters: String,
    /// Regular expressions whose matches become `<*>` before tokenising (slower; optional).
    pub patterns: Vec<String>,
    /// A masked token under a template's `<*>` counts as equal when matching (plain Drain
    /// counts it as neither equal nor different).
    pub masked_tokens_match: bool,
    /// Most constant words a line may change in a template it joins: a line whose words differ
    /// from a template's in more places starts its own template, however similar otherwise
    /// ("user login succeeded for <*>" and "user logout requested by <*>" stay apart). A word
    /// is a token of letters only; a place counts when the template's token or the line's is a
    /// word and the other is a different constant. `null` leaves only the similarity to decide
    /// (plain Drain).
    pub max_word_changes: Option<usize>,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            depth: 4,
            similarity: 0.5,
            max_children: 100,
            masking: Masking::default(),
            extra_delimiters: String::new(),
            patterns: Vec::new(),
            masked_tokens_match: true,
            max_word_changes: Some(1),
        }
    }
}

/// Why a miner configuration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MinerConfigError {
    #[error("depth must be 3..=32, not {0}")]
    Depth(usize),
    #[error("similarity must be in (0, 1], not {0}")]
    Similarity(f64),
    #[error("maxChildren must be at least 1")]
    MaxChildren,
    #[error("pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        source: regex::Error,
    },
}

impl MinerConfig {
    pub fn check(&self) -> Result<(), MinerConfigError> {
        if self.depth < 3 || self.depth > 32 {
            return Err(MinerConfigError::Depth(self.depth));
        }
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(MinerConfigError::Similarity(self.similarity));
        }
        if self.max_children == 0 {
            return Err(MinerConfigError::MaxChildren);
        }
        for p in &self.patterns {
            Regex::new(p).map_err(|source| MinerConfigError::Pattern {
                pattern: p.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub template: Vec<u32>,
    pub size: u64,
}

#[derive(Debug, Default)]
struct Node {
    children: FxHashMap<u32, u32>,
    clusters: Vec<u32>,
    /// Bumped whenever a cluster of this leaf is added or its template changes.
    version: u32,
}

/// What matching a token sequence found, valid while its leaf's version is unchanged.
#[derive(Debug, Clone, Copy)]
struct Seen {
    leaf: u32,
    version: u32,
    cluster: u32,
}

/// Token sequences remembered (then forgotten all at once, to bound memory).
const SEEN_LIMIT: usize = 1 << 18;

/// The miner. Feed it lines with [`Miner::add`]; each returns the id of its template cluster.
#[derive(Debug)]
pub struct Miner {
    config: MinerConfig,
    patterns: Vec<Regex>,
    delimiters: [bool; 256],
    ids: FxHashMap<Box<[u8]>, u32>,
    tokens: Vec<Box<[u8]>>,
    /// Whether a token id holds a digit (Drain routes those through `<*>`).
    has_digit: Vec<bool>,
    /// Whether a token id is a word (letters only, once punctuation at its ends is trimmed).
    is_word: Vec<bool>,
    /// Whether a token id names a log level (`ERROR`, `[warn]`, `INFO:`).
    is_level: Vec<bool>,
    roots: FxHashMap<usize, u32>,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
    /// Sequences already matched: a sequence seen again, in a leaf that has not changed since,
    /// matches the same cluster (the scan would find it again), so the scan is skipped.
    seen: FxHashMap<Box<[u32]>, Seen>,
    // Scratch space, reused for every line.
    line_ids: Vec<u32>,
    buf: Vec<u8>,
    pre: Vec<u8>,
}

impl Miner {
    /// A miner; the configuration must have passed [`MinerConfig::check`] (invalid patterns are
    /// left out).
    pub fn new(config: MinerConfig) -> Self {
        let patterns = config
            .patterns
            .iter()
            .filter_map(|p| Regex::new(p).ok())
            .collect();
        let mut delimiters = [false; 256];
        for b in [b' ', b'\t', b'\r', b'\n', 0x0b, 0x0c]
            .into_iter()
            .chain(config.extra_delimiters.bytes())
        {
            if let Some(d) = delimiters.get_mut(usize::from(b)) {
                *d = true;
            }
        }
        let mut m = Self {
            config,
            patterns,
            delimiters,
            ids: FxHashMap::default(),
            tokens: Vec::new(),
            has_digit: Vec::new(),
            is_word: Vec::new(),
            is_level: Vec::new(),
            roots: FxHashMap::default(),
            nodes: Vec::new(),
            clusters: Vec::new(),
            seen: FxHashMap::default(),
            line_ids: Vec::new(),
            buf: Vec::new(),
            pre: Vec::new(),
        };
        m.intern(b"<*>");
        m
    }

    fn intern(&mut self, token: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = u32::try_from(self.tokens.len()).unwrap_or(u32::MAX);
        let boxed: Box<[u8]> = token.into();
        self.ids.insert(boxed.clone(), id);
        self.tokens.push(boxed);
        self.has_digit.push(token.iter().any(u8::is_ascii_digit));
        self.is_word.push(is_word(token));
        self.is_level.push(is_level(token));
        id
    }

    fn is_delimiter(&self, b: u8) -> bool {
        self.delimiters
            .get(usize::from(b))
            .copied()
            .unwrap_or(false)
    }

    fn tokenize(&mut self, line: &[u8]) {
        self.line_ids.clear();
        let mut pre = std::mem::take(&mut self.pre);
        let src: &[u8] = if self.patterns.is_empty() {
            line
        } else {
            let mut cur = std::borrow::Cow::Borrowed(line);
            for re in &self.patterns {
                if let std::borrow::Cow::Owned(o) = re.replace_all(&cur, &b"<*>"[..]) {
                    cur = std::borrow::Cow::Owned(o);
                }
            }
            pre.clear();
            pre.extend_from_slice(&cur);
            &pre
        };
        let mut buf = std::mem::take(&mut self.buf);
        let mut i = 0;
        let n = src.len();
        while i < n {
            while i < n && src.get(i).is_some_and(|&b| self.is_delimiter(b)) {
                i += 1;
            }
            let start = i;
            while i < n && src.get(i).is_some_and(|&b| !self.is_delimiter(b)) {
                i += 1;
            }
            if start == i {
                break;
            }
            let token = src.get(start..i).unwrap_or_default();
            let id = match self.config.masking.apply(token, &mut buf) {
                Masked::Keep => self.intern(token),
                Masked::Wildcard => WILDCARD,
                Masked::Rewritten => {
                    if buf.as_slice() == b"<*>" {
                        WILDCARD
                    } else {
                        self.intern(&buf)
                    }
                }
            };
            self.line_ids.push(id);
        }
        self.buf = buf;
        self.pre = pre;
    }

    /// Add one line (one event); returns its cluster id.
    pub fn add(&mut self, line: &[u8]) -> usize {
        self.tokenize(line);
        let ids = std::mem::take(&mut self.line_ids);
        let cached = self.seen.get(ids.as_slice()).copied().filter(|s| {
            self.nodes
                .get(s.leaf as usize)
                .is_some_and(|n| n.version == s.version)
        });
        let (leaf, found) = match cached {
            Some(s) => (s.leaf as usize, Some(s.cluster as usize)),
            None => {
                let leaf = self.route(&ids);
                (leaf, self.best_match(leaf, &ids))
            }
        };
        let cid = match found {
            Some(cid) => {
                let mut changed = false;
                if let Some(c) = self.clusters.get_mut(cid) {
                    for (t, &l) in c.template.iter_mut().zip(&ids) {
                        if *t != l && *t != WILDCARD {
                            *t = WILDCARD;
                            changed = true;
                        }
                    }
                    c.size += 1;
                }
                if changed && let Some(n) = self.nodes.get_mut(leaf) {
                    n.version = n.version.wrapping_add(1);
                }
                cid
            }
            None => {
                let cid = self.clusters.len();
                self.clusters.push(Cluster {
                    template: ids.clone(),
                    size: 1,
                });
                if let Some(node) = self.nodes.get_mut(leaf) {
                    node.clusters.push(u32::try_from(cid).unwrap_or(u32::MAX));
                    node.version = node.version.wrapping_add(1);
                }
                cid
            }
        };
        if cached.is_none() {
            if self.seen.len() >= SEEN_LIMIT {
                self.seen.clear();
            }
            let version = self.nodes.get(leaf).map_or(0, |n| n.version);
            self.seen.insert(
                ids.as_slice().into(),
                Seen {
                    leaf: u32::try_from(leaf).unwrap_or(u32::MAX),
                    version,
                    cluster: u32::try_from(cid).unwrap_or(u32::MAX),
                },
            );
        }
        self.line_ids = ids;
        cid
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(Node::default());
        u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
    }

    /// The leaf node for a token sequence, created as needed.
    fn route(&mut self, ids: &[u32]) -> usize {
        let len = ids.len();
        let mut node = match self.roots.get(&len) {
            Some(&n) => n,
            None => {
                let n = self.new_node();
                self.roots.insert(len, n);
                n
            }
        };
        let levels = self.config.depth.saturating_sub(3).min(len);
        for &tok in ids.iter().take(levels) {
            let key =
                if tok == WILDCARD || self.has_digit.get(tok as usize).copied().unwrap_or(false) {
                    WILDCARD
                } else {
                    tok
                };
            let children = self.nodes.get(node as usize).map(|n| &n.children);
            let next = children.and_then(|c| c.get(&key).copied());
            node = match next {
                Some(n) => n,
                None => {
                    let full = children.map_or(0, |c| c.len()) >= self.config.max_children;
                    let key = if full { WILDCARD } else { key };
                    match self
                        .nodes
                        .get(node as usize)
                        .and_then(|n| n.children.get(&key).copied())
                    {
                        Some(n) => n,
                        None => {
                            let child = self.new_node();
                            if let Some(n) = self.nodes.get_mut(node as usize) {
                                n.children.insert(key, child);
                            }
                            child
                        }
                    }
                }
            };
        }
        node as usize
    }

    fn best_match(&self, leaf: usize, ids: &[u32]) -> Option<usize> {
        let node = self.nodes.get(leaf)?;
        let mut best: Option<(usize, f64, usize)> = None;
        for &cid in &node.clusters {
            let Some(c) = self.clusters.get(cid as usize) else {
                continue;
            };
            let mut same = 0usize;
            let mut params = 0usize;
            let mut word_changes = 0usize;
            let mut level_change = false;
            for (&t, &l) in c.template.iter().zip(ids) {
                // A constant word replaced, or a word where the template had another constant:
                // either side being a word counts (an access line's `HTTP/1.0"` against an
                // application message's `served` is a change of message, not of a value).
                if t != l && t != WILDCARD && l != WILDCARD && (self.word(t) || self.word(l)) {
                    word_changes += 1;
                    level_change |= self.level(t) && self.level(l);
                }
                if t == WILDCARD {
                    params += 1;
                    // A masked token under a template's `<*>` is as good as equal.
                    if l == WILDCARD && self.config.masked_tokens_match {
                        same += 1;
                    }
                } else if t == l {
                    same += 1;
                }
            }
            if self
                .config
                .max_word_changes
                .is_some_and(|max| word_changes > max || level_change)
            {
                continue;
            }
            let sim = if ids.is_empty() {
                1.0
            } else {
                same as f64 / ids.len() as f64
            };
            let better = match best {
                None => true,
                Some((_, s, p)) => sim > s || (sim == s && params > p),
            };
            if better {
                best = Some((cid as usize, sim, params));
            }
        }
        best.filter(|&(_, sim, _)| sim >= self.config.similarity)
            .map(|(c, _, _)| c)
    }

    fn word(&self, token: u32) -> bool {
        self.is_word.get(token as usize).copied().unwrap_or(false)
    }

    fn level(&self, token: u32) -> bool {
        self.is_level.get(token as usize).copied().unwrap_or(false)
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The template of a cluster as text.
    pub fn template(&self, cluster: usize) -> String {
        let Some(c) = self.clusters.get(cluster) else {
            return String::new();
        };
        let mut out = Vec::new();
        for (i, &t) in c.template.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(self.tokens.get(t as usize).map_or(&b"?"[..], |b| b));
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Letters only, once ASCII punctuation at the ends is trimmed (`succeeded,` is a word;
/// `alice42`, `10.0.0.1`, `<*>` are not), and not a name of a day or month (dates vary).
fn is_word(token: &[u8]) -> bool {
    let start = token.iter().position(|b| !b.is_ascii_punctuation());
    let end = token.iter().rposition(|b| !b.is_ascii_punctuation());
    let word = match (start, end) {
        (Some(s), Some(e)) => token.get(s..=e).unwrap_or_default(),
        _ => return false,
    };
    if word.is_empty() || !word.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let lower = word.to_ascii_lowercase();
    !DATE_WORDS.iter().any(|w| w.as_bytes() == lower.as_slice())
}

/// A level's name (`ERROR`, `[warn]`, `INFO:`): lines of different levels never share a
/// template.
fn is_level(token: &[u8]) -> bool {
    let word = token
        .iter()
        .position(|b| !b.is_ascii_punctuation())
        .zip(token.iter().rposition(|b| !b.is_ascii_punctuation()))
        .and_then(|(s, e)| token.get(s..=e))
        .unwrap_or_default();
    std::str::from_utf8(word).is_ok_and(|w| super::level::level_word(w).is_some())
}

/// Names of days and months, short and long.
const DATE_WORDS: [&str; 38] = [
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_lines_of_one_template() {
        let mut m = Miner::new(MinerConfig::default());
        let a = m.add(b"Connection from 10.0.0.1 closed after 12 ms");
        let b = m.add(b"Connection from 10.0.0.2 closed after 7 ms");
        let c = m.add(b"User alice logged in");
        let d = m.add(b"User bob logged in");
        let e = m.add(b"alice logged in again");
        assert_eq!(a, b);
        assert_eq!(c, d);
        assert_ne!(a, c);
        assert_ne!(c, e);
        assert_eq!(m.template(a), "Connection from <*> closed after <*> ms");
        assert_eq!(m.template(c), "User <*> logged in");
    }

    #[test]
    fn different_constant_words_stay_apart() {
        // 6 of 8 tokens equal: plain Drain (similarity 0.5) merges these.
        let lines: [&[u8]; 4] = [
            b"user 42 login succeeded from 10.0.0.1 port 22",
            b"user 43 logout requested from 10.0.0.2 port 22",
            b"user 44 login succeeded from 10.0.0.3 port 22",
            b"user 45 logout requested from 10.0.0.4 port 22",
        ];
        let mut m = Miner::new(MinerConfig::default());
        let ids: Vec<usize> = lines.iter().map(|l| m.add(l)).collect();
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[1], ids[3]);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(
            m.template(ids[0]),
            "user <*> login succeeded from <*> port <*>"
        );
        assert_eq!(
            m.template(ids[1]),
            "user <*> logout requested from <*> port <*>"
        );
        // Levels never merge, even as the one word that differs.
        let e = m.add(b"ERROR request 7 done");
        let i = m.add(b"INFO request 8 done");
        assert_ne!(e, i);
        // One word may still vary (a user name), and day and month names are dates.
        let a = m.add(b"session opened for alice at Mon Dec 4");
        let b = m.add(b"session opened for bob at Tue Jan 5");
        assert_eq!(a, b);
        let mut plain = Miner::new(MinerConfig {
            max_word_changes: None,
            ..MinerConfig::default()
        });
        let ids: Vec<usize> = lines.iter().map(|l| plain.add(l)).collect();
        assert_eq!(
            ids[0], ids[1],
            "plain Drain merges them: the test shows the difference"
        );
    }

    #[test]
    fn unrelated_messages_of_one_logger_stay_apart() {
        // Found in the real-services test: an access line and an application message of the
        // same length and level, no constant word in common.
        let lines: [&[u8]; 4] = [
            b"2026-12-05 02:10:01,123 INFO shop.access: 127.0.0.1 \"GET /orders/47 HTTP/1.0\" 200 -",
            b"2026-12-05 02:10:01,124 INFO shop.api: catalogue page 3 served (6 items)",
            b"2026-12-05 02:10:02,001 INFO shop.access: 127.0.0.1 \"GET /orders/12 HTTP/1.0\" 404 -",
            b"2026-12-05 02:10:02,002 INFO shop.api: catalogue page 9 served (2 items)",
        ];
        for order in [[0, 1, 2, 3], [1, 0, 3, 2]] {
            let mut m = Miner::new(MinerConfig::default());
            let mut ids = [0usize; 4];
            for i in order {
                ids[i] = m.add(lines[i]);
            }
            assert_eq!(ids[0], ids[2], "{}", m.template(ids[0]));
            assert_eq!(ids[1], ids[3], "{}", m.template(ids[1]));
            assert_ne!(ids[0], ids[1], "{}", m.template(ids[0]));
        }
    }

    #[test]
    fn patterns_and_delimiters() {
        let cfg = MinerConfig {
            patterns: vec![r"blk_-?\d+".into()],
            extra_delimiters: "=".into(),
            ..MinerConfig::default()
        };
        let mut m = Miner::new(cfg);
        let a = m.add(b"Deleting block blk_-123 file=x");
        let b = m.add(b"Deleting block blk_456 file=y");
        assert_eq!(a, b);
        assert_eq!(m.template(a), "Deleting block <*> file <*>");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut m = Miner::new(MinerConfig::default());
        for line in [&b""[..], b"   ", b"\xff\xfe\x00", b"=", &[b'a'; 10_000][..]] {
            m.add(line);
        }
    }
}
