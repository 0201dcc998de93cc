#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

pub mod mapper;
pub mod model;
pub use model::Error as ModelError;

/// Builder for the regexes set
pub struct Builder {
    regexes: Vec<LazyRegex>,
    mapper_builder: mapper::Builder,
    lazy: bool,
    one_shot: bool,
    precomputed: Option<Precomputed>,
}

/// What [`Builder::precompute`] wrote, read back: each regex's
/// fingerprint and capture count, and the prefilter.
struct Precomputed {
    regexes: Vec<(u64, usize)>,
    mapper: mapper::Mapper,
    atoms: Vec<String>,
    /// The prefilter's automaton as [`Builder::precompute`] built it,
    /// when it could (lowercase atoms).
    automaton: Option<Daac>,
}

/// A double-array Aho-Corasick automaton over a set's atoms, pattern `i`
/// being atom `i`: the form of the prefilter that [`Builder::precompute`]
/// builds once and [`Builder::from_precomputed`] reads back by copying
/// its arrays, where building `aho_corasick`'s NFA from the atoms took
/// most of a precomputed set's build (about 19 M instructions for
/// uap-core's and the two bot lists' sets, callgrind).
type Daac = daachorse::DoubleArrayAhoCorasick<u32>;

/// The automaton of `atoms` for a precomputed set, in `daachorse`'s
/// serialized form; `None` when `daachorse` cannot hold them (an atom with
/// an ASCII capital, which the search of the lowercased haystack would
/// miss, an empty atom, or a repeated one).
fn automaton_bytes(atoms: &[String]) -> Option<Vec<u8>> {
    if atoms.is_empty() || atoms.iter().any(|a| a.bytes().any(|b| b.is_ascii_uppercase())) {
        return None;
    }
    // Without daachorse's own prefilter (a 64 KiB table of 2-grams, to
    // skip long stretches of text): a user agent is a few hundred bytes.
    daachorse::DoubleArrayAhoCorasickBuilder::new()
        .use_prefilter(false)
        .build(atoms)
        .ok()
        .map(|pma: Daac| pma.serialize())
}

/// The automaton [`automaton_bytes`] wrote, as the precomputed text holds
/// it: its length, then its bytes in hex.
fn write_automaton(bytes: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "{}", bytes.len());
    out.reserve(bytes.len() * 2 + 1);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out.push('\n');
}

/// `data.split('\n')`, each line found with `memchr`: the precomputed
/// text of uap-core's and the bot lists' sets is some 15,000 short lines
/// and a few of hundreds of KB, and `str::split`'s per-call searcher setup
/// was a fifth of reading them (callgrind).
struct Lines<'a>(Option<&'a str>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => {
                self.0 = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// Lowercase hex to bytes; `None` if anything else is in it. Eight
/// digits at a time in a `u64`: this reads a few hundred KB in every new
/// container, and a table lookup per digit cost about 17 instructions a
/// byte (callgrind), this about 5.
fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    if hex.len() % 2 != 0 {
        return None;
    }
    let mut out = vec![0u8; hex.len() / 2];
    let mut chunks = hex.chunks_exact(8);
    for (chunk, to) in (&mut chunks).zip(out.chunks_exact_mut(4)) {
        let v = u64::from_le_bytes(chunk.try_into().ok()?);
        // Each byte `x` (ASCII, so no carries between bytes): the high
        // bit of `x + (0x80 - lo)` is set when `x >= lo`, that of
        // `x + (0x7f - hi)` when `x > hi`.
        let digit = v.wrapping_add(ONES * 0x50) & !v.wrapping_add(ONES * 0x46) & HIGH;
        let letter = v.wrapping_add(ONES * 0x1f) & !v.wrapping_add(ONES * 0x19) & HIGH;
        if v & HIGH != 0 || digit | letter != HIGH {
            return None;
        }
        // Each byte's value, then each pair's (first digit high).
        let nibbles = (v & (ONES * 0x0f)) + (letter >> 7) * 9;
        let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
        let pairs = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
        let pairs = (pairs | (pairs >> 16)) & 0xffff_ffff;
        to.copy_from_slice(&(pairs as u32).to_le_bytes());
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let whole = hex.len() / 8 * 4;
    for (pair, to) in chunks.remainder().chunks_exact(2).zip(&mut out[whole..]) {
        *to = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Reads what [`write_automaton`] wrote, for `atoms_len` atoms:
/// `daachorse` checks the automaton's structure as it reads it, so that a
/// damaged text cannot make a search go out of bounds.
fn read_automaton<'a>(lines: &mut impl Iterator<Item = &'a str>, atoms_len: usize) -> Option<Daac> {
    let len: usize = lines.next()?.parse().ok()?;
    let hex = lines.next()?.as_bytes();
    if hex.len() != len * 2 {
        return None;
    }
    let bytes = unhex(hex)?;
    let (pma, rest) = Daac::deserialize(&bytes).ok()?;
    (rest.is_empty() && atoms_len > 0).then_some(pma)
}

/// The first line of [`Builder::precompute`]'s text, with its format
/// version.
const PRECOMPUTED_HEADER: &str = "regex-filtered precomputed 2";

/// A pattern and its options, hashed (FNV-1a, 64 bits): how a
/// precomputed set recognises the patterns it was computed from.
fn fingerprint(pattern: &str, opts: &Options) -> u64 {
    let flags = [
        opts.case_insensitive,
        opts.dot_matches_new_line,
        opts.ignore_whitespace,
        opts.multi_line,
        opts.crlf,
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in pattern.bytes().chain(flags.map(u8::from)) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One regex of the set, with the pattern and options it was pushed
/// with.
///
/// By default it is compiled when pushed into the [`Builder`]. With
/// [`Builder::lazy`] it is compiled the first time the prefilter
/// selects it for an input, once, whichever thread gets there first
/// (the others wait for it). Either way it is compiled once more, without
/// Unicode, the first time an ASCII haystack asks for it
/// ([`LazyRegex::get_for`]).
pub struct LazyRegex {
    pattern: String,
    options: Options,
    /// Known when pushed into a set; `None` for [`LazyRegex::new`]'s.
    captures_len: Option<usize>,
    one_shot: bool,
    regex: OnceLock<Result<Regex, regex::Error>>,
    /// The pattern compiled for ASCII haystacks alone (see
    /// [`LazyRegex::get_for`]), `None` when it cannot be: compiled the
    /// first time an ASCII haystack asks.
    ascii: OnceLock<Option<Regex>>,
    /// The text the pattern matches when it is a plain literal (see
    /// [`literal_of`]): then whether it matches needs no regex. Worked
    /// out the first time the regex is asked, as the regex is compiled.
    literal: OnceLock<Option<Literal>>,
}

/// A pattern that matches one text and nothing else, and how.
enum Literal {
    /// Case-sensitively: the haystack contains it.
    Exact(Box<str>),
    /// ASCII, case-insensitively (kept lowercase): an ASCII haystack
    /// contains it in any case. A haystack with other characters goes to
    /// the regex, whose Unicode case folding also matches `K` (U+212A)
    /// for `k` and `ſ` (U+017F) for `s`.
    AsciiCaseless(Box<[u8]>),
}

/// The literal a pattern matches, when it is nothing else: no
/// metacharacter, and escapes of punctuation only (`\/`, `\.`, `\-`).
/// Most of the bot lists' patterns are (1,352 of crawler-user-agents'
/// 1,500, 101 of isbot's 206), and compiling a regex for one costs a new
/// container about 0.25 M instructions, searching it with the bounded
/// backtracker about 10,000 per user agent; a substring search costs a
/// few hundred.
fn literal_of(pattern: &str, options: &Options) -> Option<Literal> {
    if options.ignore_whitespace {
        return None;
    }
    let mut text = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => text.push(e),
                _ => return None,
            },
            '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                return None;
            }
            c => text.push(c),
        }
    }
    if text.is_empty() {
        return None;
    }
    if !options.case_insensitive {
        return Some(Literal::Exact(text.into()));
    }
    text.is_ascii()
        .then(|| Literal::AsciiCaseless(text.to_ascii_lowercase().into_bytes().into()))
}

impl Literal {
    /// Whether `haystack` matches, or `None` when only the regex can say.
    fn is_match(&self, haystack: &str) -> Option<bool> {
        match self {
            Literal::Exact(text) => Some(haystack.contains(&**text)),
            Literal::AsciiCaseless(text) => haystack.is_ascii().then(|| {
                haystack
                    .as_bytes()
                    .windows(text.len())
                    .any(|w| w.eq_ignore_ascii_case(text))
            }),
        }
    }
}

/// A compiled regex of the set: `regex_automata`'s meta regex, which
/// [`regex::Regex`] wraps, so that a [`Builder::one_shot`] set can leave
/// out what only a DFA would use (the reverse NFA), which `regex`'s
/// builder cannot turn off. Matches as a [`regex::Regex`] of the same
/// pattern and options (the tests compare capture spans). On a new
/// container's first 800 distinct user agents: 548 M instructions with
/// `regex::Regex` and `dfa_size_limit(0)`, 521 M with this (callgrind);
/// turning the literal prefilter off as well made it 577 M.
pub struct Regex {
    re: regex_automata::meta::Regex,
}

impl Regex {
    /// Whether the regex matches anywhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.re.is_match(haystack)
    }

    /// The leftmost-first match starting at `start` or after, as
    /// [`regex::Regex::find_at`]: the text before `start` is still seen
    /// by `^`, `\b` and the like. `None` past the haystack's end.
    pub fn find_at<'h>(&self, haystack: &'h str, start: usize) -> Option<Match<'h>> {
        if start > haystack.len() {
            return None;
        }
        let input = regex_automata::Input::new(haystack).range(start..);
        self.re.search(&input).map(|m| Match {
            haystack,
            start: m.start(),
            end: m.end(),
        })
    }

    /// The leftmost-first match's capture groups, as
    /// [`regex::Regex::captures`].
    pub fn captures<'h>(&self, haystack: &'h str) -> Option<Captures<'h>> {
        let mut caps = self.re.create_captures();
        self.re.captures(haystack, &mut caps);
        caps.is_match().then_some(Captures { haystack, caps })
    }

    /// The number of capture groups, the implicit whole-match group
    /// included.
    pub fn captures_len(&self) -> usize {
        self.re.captures_len()
    }
}

/// The capture groups of one match (see [`Regex::captures`]).
pub struct Captures<'h> {
    haystack: &'h str,
    caps: regex_automata::util::captures::Captures,
}

impl<'h> Captures<'h> {
    /// Group `i` (0 is the whole match), if it took part in the match.
    pub fn get(&self, i: usize) -> Option<Match<'h>> {
        let span = self.caps.get_group(i)?;
        Some(Match {
            haystack: self.haystack,
            start: span.start,
            end: span.end,
        })
    }

    /// Appends `replacement` to `dst` with `$1`, `${1}` and `$name`
    /// replaced by those groups' text, as [`regex::Captures::expand`]
    /// (which does the same through the same code).
    pub fn expand(&self, replacement: &str, dst: &mut String) {
        self.caps
            .interpolate_string_into(self.haystack, replacement, dst);
    }

    /// The number of groups, the whole match included.
    pub fn len(&self) -> usize {
        self.caps.group_len()
    }

    /// Whether there are no groups (never: group 0 is the match).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One capture group's text (see [`Captures::get`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'h> {
    haystack: &'h str,
    start: usize,
    end: usize,
}

impl<'h> Match<'h> {
    /// The text matched.
    pub fn as_str(&self) -> &'h str {
        &self.haystack[self.start..self.end]
    }

    /// Where the text is in the haystack.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

impl LazyRegex {
    /// A regex of its own, outside any set, compiled as a set's: on
    /// first use, for ASCII haystacks without Unicode
    /// ([`LazyRegex::get_for`]), a plain literal not at all, and
    /// with `one_shot` without a DFA ([`Builder::one_shot`]). Nothing is
    /// parsed until then: a pattern that does not compile makes
    /// [`LazyRegex::get`] an error and [`LazyRegex::is_match`] false,
    /// so a program's own patterns want a test that compiles them.
    pub fn new(pattern: &str, options: &Options, one_shot: bool) -> Self {
        LazyRegex {
            pattern: pattern.to_owned(),
            options: options.clone(),
            captures_len: None,
            one_shot,
            regex: OnceLock::new(),
            ascii: OnceLock::new(),
            literal: OnceLock::new(),
        }
    }

    /// The pattern, as pushed.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The number of capture groups, including the implicit group
    /// of the entire match, as [`regex::Regex::captures_len`]: known
    /// without compiling the regex when it was pushed into a set; a
    /// [`LazyRegex::new`] one is compiled for it (0 if it cannot be).
    pub fn captures_len(&self) -> usize {
        self.captures_len
            .unwrap_or_else(|| self.get().map_or(0, Regex::captures_len))
    }

    /// Whether the regex has been compiled, for any haystack.
    pub fn is_compiled(&self) -> bool {
        self.regex.get().is_some() || self.ascii.get().is_some_and(Option::is_some)
    }

    /// The compiled regex, compiling it on first call. Patterns are
    /// parsed when pushed, so the only error left is a regex too
    /// large to compile within the default limits.
    pub fn get(&self) -> Result<&Regex, &regex::Error> {
        self.regex
            .get_or_init(|| self.options.to_regex(&self.pattern, self.one_shot, false))
            .as_ref()
    }

    /// The compiled regex to search `haystack` with, compiling it on
    /// first call: for an ASCII haystack, the pattern compiled without
    /// Unicode, when it can be (`\d` as `[0-9]`, `(?i)` as ASCII case
    /// folding, `.` and `[^/]` as any byte but those); for any other,
    /// [`LazyRegex::get`]'s.
    ///
    /// Both find the same matches, with the same spans, in an ASCII
    /// haystack: Unicode's `\d`, `\w`, `\s` and `\b` hold of exactly
    /// the ASCII characters their ASCII forms hold of, and what else a
    /// Unicode class or case folding adds (`K`, U+212A, for `k`) is not
    /// ASCII. A user agent is ASCII all but always, and Unicode classes
    /// make large automata: compiling the 354 regexes a new container
    /// needed for its first 800 distinct user agents took 83 M
    /// instructions so, 106 M with Unicode (callgrind; the same answers).
    /// A pattern that needs Unicode (`\pL`, a non-ASCII letter under
    /// `(?i)`) does not compile so, and is searched with the Unicode regex.
    pub fn get_for(&self, haystack: &str) -> Result<&Regex, &regex::Error> {
        self.compiled_for(haystack.is_ascii())
    }

    fn compiled_for(&self, ascii_haystack: bool) -> Result<&Regex, &regex::Error> {
        if ascii_haystack {
            let ascii = self
                .ascii
                .get_or_init(|| self.options.to_regex(&self.pattern, self.one_shot, true).ok());
            if let Some(re) = ascii {
                return Ok(re);
            }
        }
        self.get()
    }

    /// Whether the regex matches anywhere in `haystack`: a plain literal
    /// by a substring search, without compiling the regex; any other
    /// pattern by the regex (compiled on first call), `false` if it
    /// cannot be compiled.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.is_match_in(haystack, haystack.is_ascii())
    }

    /// Whether a plain literal pattern matches `haystack`, `None` when
    /// only the regex can say.
    fn literal_match(&self, haystack: &str) -> Option<bool> {
        self.literal
            .get_or_init(|| literal_of(&self.pattern, &self.options))
            .as_ref()
            .and_then(|l| l.is_match(haystack))
    }

    /// [`LazyRegex::is_match`], told whether the haystack is ASCII.
    fn is_match_in(&self, haystack: &str, ascii_haystack: bool) -> bool {
        match self.literal_match(haystack) {
            Some(found) => found,
            None => self
                .compiled_for(ascii_haystack)
                .is_ok_and(|r| r.is_match(haystack)),
        }
    }
}

/// Parser configuration, can be used to tune the regex parsing when
/// adding it to the [`Builder`]. Every option defaults to `false`
/// whether through [`Default`] or [`Options::new`].
///
/// The parser can also be configured via standard [`regex`] inline
/// flags.
#[derive(Default, Clone)]
pub struct Options {
    case_insensitive: bool,
    dot_matches_new_line: bool,
    ignore_whitespace: bool,
    multi_line: bool,
    crlf: bool,
}

impl Options {
    /// Create a new options object.
    pub fn new() -> Self {
        Self::default()
    }
    /// Configures case-insensitive matching for the entire pattern.
    pub fn case_insensitive(&mut self, yes: bool) -> &mut Self {
        self.case_insensitive = yes;
        self
    }
    /// Configures `.` to match newline characters, by default `.`
    /// matches everything *except* newline characters.
    pub fn dot_matches_new_line(&mut self, yes: bool) -> &mut Self {
        self.dot_matches_new_line = yes;
        self
    }
    /// Configures ignoring whitespace inside patterns, as well as `#`
    /// line comments ("verbose" mode).
    ///
    /// Verbose mode is useful to break up complex regexes and improve
    /// their documentation.
    pub fn ignore_whitespace(&mut self, yes: bool) -> &mut Self {
        self.ignore_whitespace = yes;
        self
    }
    /// Configures multi-line mode. When enabled, `^` matches at every
    /// start of line and `$` at every end of line, by default they
    /// match only the start and end of the string respectively.ca
    pub fn multi_line(&mut self, yes: bool) -> &mut Self {
        self.multi_line = yes;
        self
    }
    /// Allows `\r` as a line terminator, by default only `\n` is a
    /// line terminator (relevant for [`Self::ignore_whitespace`] and
    /// [`Self::multi_line`]).
    pub fn crlf(&mut self, yes: bool) -> &mut Self {
        self.crlf = yes;
        self
    }
    /// The pattern compiled with these options; with `ascii`, without
    /// Unicode, for ASCII haystacks alone ([`LazyRegex::get_for`]).
    fn to_regex(&self, pattern: &str, one_shot: bool, ascii: bool) -> Result<Regex, regex::Error> {
        use regex_automata::{meta, util::syntax};
        let syntax = syntax::Config::new()
            .unicode(!ascii)
            .utf8(!ascii)
            .case_insensitive(self.case_insensitive)
            .dot_matches_new_line(self.dot_matches_new_line)
            .ignore_whitespace(self.ignore_whitespace)
            .multi_line(self.multi_line)
            .crlf(self.crlf);
        // `regex::RegexBuilder`'s defaults.
        let mut config = meta::Config::new()
            .nfa_size_limit(Some(10 * (1 << 20)))
            .hybrid_cache_capacity(2 * (1 << 20));
        if one_shot {
            // No lazy or full DFA, so no reverse NFA either.
            config = config.hybrid(false).dfa(false);
        }
        meta::Builder::new()
            .configure(config)
            .syntax(syntax)
            .build(pattern)
            .map(|re| Regex { re })
            .map_err(|e| match e.size_limit() {
                Some(limit) => regex::Error::CompiledTooBig(limit),
                None => regex::Error::Syntax(e.to_string()),
            })
    }
}
impl From<Options> for regex_syntax::Parser {
    fn from(opt: Options) -> Self {
        Self::from(&opt)
    }
}
impl From<&Options> for regex_syntax::Parser {
    fn from(
        Options {
            case_insensitive,
            dot_matches_new_line,
            ignore_whitespace,
            multi_line,
            crlf,
        }: &Options,
    ) -> Self {
        regex_syntax::ParserBuilder::new()
            .case_insensitive(*case_insensitive)
            .dot_matches_new_line(*dot_matches_new_line)
            .ignore_whitespace(*ignore_whitespace)
            .multi_line(*multi_line)
            .crlf(*crlf)
            .build()
    }
}

/// Parsing error when adding a new regex to the [`Builder`].
#[derive(Debug)]
pub enum ParseError {
    /// An error occurred while parsing the regex or translating it to
    /// HIR.
    SyntaxError(String),
    /// An error occurred while processing the regex for atom
    /// extraction.
    ProcessingError(ModelError),
    /// The regex was too large to compile to the NFA (within the
    /// default limits).
    RegexTooLarge(usize),
    /// The regex at this index is not the one the builder's
    /// precomputed set was computed from
    /// ([`Builder::from_precomputed`]).
    NotPrecomputed(usize),
}
impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParseError::ProcessingError(e) => Some(e),
            ParseError::SyntaxError(_) => None,
            ParseError::RegexTooLarge(_) => None,
            ParseError::NotPrecomputed(_) => None,
        }
    }
}
impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl From<regex_syntax::Error> for ParseError {
    fn from(value: regex_syntax::Error) -> Self {
        Self::SyntaxError(value.to_string())
    }
}
impl From<regex::Error> for ParseError {
    fn from(value: regex::Error) -> Self {
        match value {
            regex::Error::CompiledTooBig(v) => Self::RegexTooLarge(v),
            e => Self::SyntaxError(e.to_string()),
        }
    }
}
impl From<ModelError> for ParseError {
    fn from(value: ModelError) -> Self {
        Self::ProcessingError(value)
    }
}

/// Error while compiling the builder to a prefiltered set.
#[derive(Debug)]
pub enum BuildError {
    /// Error while building the prefilter.
    PrefilterError(aho_corasick::BuildError),
    /// The precomputed text is damaged, or the builder was given fewer
    /// patterns than it was computed from ([`Builder::from_precomputed`]).
    NotPrecomputed(String),
}
impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::PrefilterError(p) => Some(p),
            BuildError::NotPrecomputed(_) => None,
        }
    }
}
impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl From<aho_corasick::BuildError> for BuildError {
    fn from(value: aho_corasick::BuildError) -> Self {
        Self::PrefilterError(value)
    }
}

impl Builder {
    /// Instantiate a builder with the default metadata configuration:
    ///
    /// - minimum atom length 3
    #[must_use]
    pub fn new() -> Self {
        Self::new_atom_len(3)
    }

    /// Instantiate a builder with a custom minimum atom length.
    /// Increasing the atom length decreases the size and cost of the
    /// prefilter, but may make more regexes impossible to prefilter,
    /// which can increase matching costs.
    #[must_use]
    pub fn new_atom_len(min_atom_len: usize) -> Self {
        Self {
            regexes: Vec::new(),
            mapper_builder: mapper::Builder::new(min_atom_len),
            lazy: false,
            one_shot: false,
            precomputed: None,
        }
    }

    /// A lazy builder for the same patterns, in the same order and with
    /// the same options, as the builder whose [`Builder::precompute`]
    /// wrote `data`: pushing a pattern parses nothing (it is checked
    /// against the pattern computed from, by a hash), and
    /// [`Builder::build`] reads the prefilter instead of working it out.
    ///
    /// For a set known when the program is compiled: `precompute` in a
    /// build script, this at run time, and building the set costs about
    /// as much as reading the text and the prefilter's Aho-Corasick
    /// automaton. A pattern that differs from the one computed from, or
    /// one pattern too many or too few, fails with
    /// [`ParseError::NotPrecomputed`] or [`BuildError::NotPrecomputed`].
    pub fn from_precomputed(data: &str) -> Result<Self, BuildError> {
        let invalid = || BuildError::NotPrecomputed("not a precomputed set".into());
        let mut lines = Lines(Some(data));
        if lines.next() != Some(PRECOMPUTED_HEADER) {
            return Err(invalid());
        }
        let count: usize = lines.next().and_then(|l| l.parse().ok()).ok_or_else(invalid)?;
        let mut regexes = Vec::with_capacity(count);
        for _ in 0..count {
            let (hash, captures) = lines
                .next()
                .and_then(|l| l.split_once(' '))
                .ok_or_else(invalid)?;
            regexes.push((
                u64::from_str_radix(hash, 16).map_err(|_| invalid())?,
                captures.parse().map_err(|_| invalid())?,
            ));
        }
        let (mapper, atoms) = mapper::Mapper::read(&mut lines).ok_or_else(invalid)?;
        if mapper.regexp_count() != count {
            return Err(invalid());
        }
        let automaton = match lines.next() {
            Some("-") => None,
            Some("daachorse") => Some(read_automaton(&mut lines, atoms.len()).ok_or_else(invalid)?),
            _ => return Err(invalid()),
        };
        // The atoms are for building the prefilter's automaton, when it
        // was not precomputed.
        let atoms = match automaton {
            Some(_) => Vec::new(),
            None => atoms
                .into_iter()
                .map(mapper::read_atom)
                .collect::<Option<Vec<String>>>()
                .ok_or_else(invalid)?,
        };
        let mut builder = Self::new().lazy(true);
        builder.regexes.reserve(count);
        builder.precomputed = Some(Precomputed {
            regexes,
            mapper,
            atoms,
            automaton,
        });
        Ok(builder)
    }

    /// What [`Builder::build`] would work out from the patterns pushed
    /// (the prefilter's atoms and their mapping to the regexes) and each
    /// regex's capture count, as text for [`Builder::from_precomputed`].
    pub fn precompute(self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "{PRECOMPUTED_HEADER}\n{}", self.regexes.len());
        for r in &self.regexes {
            let _ = writeln!(
                out,
                "{:x} {}",
                fingerprint(&r.pattern, &r.options),
                r.captures_len()
            );
        }
        let (mapper, atoms) = self.mapper_builder.build();
        mapper.write(&atoms, &mut out);
        match automaton_bytes(&atoms) {
            Some(bytes) => {
                out.push_str("daachorse\n");
                write_automaton(&bytes, &mut out);
            }
            None => out.push_str("-\n"),
        }
        out
    }

    /// Compile each regex the first time the prefilter selects it,
    /// rather than when it is pushed.
    ///
    /// Building the set then costs the parsing and the prefilter
    /// only, and a set of many patterns of which few are ever
    /// selected (user-agent parsing) compiles those few. Patterns are
    /// still parsed when pushed, so syntax errors are reported there;
    /// a regex too large to compile is only found on first use, where
    /// it does not match (see [`Regexes::compile_all`] to check up
    /// front).
    #[must_use]
    pub fn lazy(mut self, yes: bool) -> Self {
        self.lazy = yes;
        self
    }

    /// Search each regex with the NFA engines (bounded backtracker,
    /// PikeVM, one-pass) and never build its lazy DFA.
    ///
    /// For callers that search each haystack once and cache the answer
    /// (user agents): a lazy DFA builds its states as haystacks reach
    /// them, which pays off when they recur, and on short one-off
    /// haystacks the building costs more than it saves. Applies to the
    /// regexes pushed after it; matches are the same either way.
    #[must_use]
    pub fn one_shot(mut self, yes: bool) -> Self {
        self.one_shot = yes;
        self
    }

    /// Currently loaded regexes.
    pub fn regexes(&self) -> &[LazyRegex] {
        &self.regexes
    }

    /// Push a single regex into the builder, using the default
    /// parsing options.
    pub fn push(self, s: &str) -> Result<Self, ParseError> {
        self.push_opt(s, &Options::new())
    }

    /// Push a single regex into the builder, using custom parsing
    /// options.
    pub fn push_opt(mut self, regex: &str, opts: &Options) -> Result<Self, ParseError> {
        if let Some(pre) = &self.precomputed {
            let index = self.regexes.len();
            let Some(&(hash, captures_len)) = pre.regexes.get(index) else {
                return Err(ParseError::NotPrecomputed(index));
            };
            if hash != fingerprint(regex, opts) {
                return Err(ParseError::NotPrecomputed(index));
            }
            self.regexes.push(LazyRegex {
                captures_len: Some(captures_len),
                ..LazyRegex::new(regex, opts, self.one_shot)
            });
            return Ok(self);
        }
        let hir = regex_syntax::Parser::from(opts).parse(regex)?;
        let pf = model::Model::new(&hir)?;
        let compiled = OnceLock::new();
        if !self.lazy {
            let _ = compiled.set(Ok(opts.to_regex(regex, self.one_shot, false)?));
        }
        self.mapper_builder.push(pf);
        self.regexes.push(LazyRegex {
            // The implicit group of the entire match, and the
            // pattern's own.
            captures_len: Some(1 + hir.properties().explicit_captures_len()),
            regex: compiled,
            ..LazyRegex::new(regex, opts, self.one_shot)
        });
        Ok(self)
    }

    /// Push a batch of regexes into the builder, using the default
    /// parsing options.
    pub fn push_all<T, I>(self, i: I) -> Result<Self, ParseError>
    where
        T: AsRef<str>,
        I: IntoIterator<Item = T>,
    {
        i.into_iter().try_fold(self, |b, s| b.push(s.as_ref()))
    }

    /// Build the regexes set from the current builder.
    ///
    /// Building a regexes set from no regexes is useless but not an
    /// error.
    pub fn build(self) -> Result<Regexes, BuildError> {
        let Self {
            regexes,
            mapper_builder,
            lazy,
            one_shot: _,
            precomputed,
        } = self;
        let (mapper, atoms, automaton) = match precomputed {
            Some(pre) if pre.regexes.len() == regexes.len() => (pre.mapper, pre.atoms, pre.automaton),
            Some(pre) => {
                return Err(BuildError::NotPrecomputed(format!(
                    "{} patterns pushed, {} precomputed",
                    regexes.len(),
                    pre.regexes.len()
                )));
            }
            None => {
                let (mapper, atoms) = mapper_builder.build();
                (mapper, atoms, None)
            }
        };
        if let Some(pma) = automaton {
            // Its atoms are lowercase (`automaton_bytes`).
            return Ok(Regexes {
                regexes,
                mapper,
                prefilter: Prefilter::Daac(pma),
                lowercase: true,
            });
        }

        // Instead of returning a bunch of atoms for the user to
        // manage, since `regex` depends on aho-corasick by default we
        // can use that directly and not bother the user.
        //
        // Atoms are lowercased (ASCII), so rather than an ASCII
        // case-insensitive automaton, whose every letter takes two
        // transitions, one over the atoms as they are finds the same
        // matches in the haystack lowercased, for half the time to
        // build (4 ms rather than 9 for uap-core's atoms).
        let lowercase = atoms
            .iter()
            .all(|a| !a.bytes().any(|b| b.is_ascii_uppercase()));
        // A lazy set keeps the noncontiguous NFA rather than the
        // contiguous one `build` picks for many atoms: converting costs
        // a fifth of the build (callgrind, on uap-core's and the bot
        // lists' atoms), and a lazy set is for few searches (one per
        // new user agent, its answer cached), too few to earn it back.
        let prefilter = Prefilter::Aho(
            AhoCorasick::builder()
                .ascii_case_insensitive(!lowercase)
                .prefilter(true)
                .kind(lazy.then_some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
                .build(atoms)?,
        );

        Ok(Regexes {
            regexes,
            mapper,
            prefilter,
            lowercase,
        })
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// The prefilter's automaton over the atoms: every occurrence of every
/// atom, overlapping, in either.
enum Prefilter {
    Aho(AhoCorasick),
    /// A precomputed set's, read rather than built.
    Daac(Daac),
}

/// Regexes set, allows testing inputs against a *large* number of
/// *non-trivial* regexes.
pub struct Regexes {
    regexes: Vec<LazyRegex>,
    mapper: mapper::Mapper,
    prefilter: Prefilter,
    /// Whether the prefilter is case-sensitive, over lowercase atoms,
    /// and searches the haystack lowercased.
    lowercase: bool,
}

impl Regexes {
    // TODO:
    // - number of tokens (prefilter.patterns_len())
    // - number of regexes
    // - number of unfiltered regexes (from mapper)
    // - ratio of checked regexes to successes (cfg-gated)
    // - total / prefiltered (- unfiltered?) so atom size can be manipulated
    #[inline]
    fn prefilter<'a>(&'a self, haystack: &'a str) -> impl Iterator<Item = usize> + 'a {
        let (aho, daac) = match &self.prefilter {
            Prefilter::Aho(ac) => (Some(ac.find_overlapping_iter(haystack)), None),
            Prefilter::Daac(pma) => (None, Some(pma.find_overlapping_iter(haystack))),
        };
        let aho = aho.into_iter().flatten().map(|m| m.pattern().as_usize());
        let daac = daac.into_iter().flatten().map(|m| m.value() as usize);
        aho.chain(daac)
    }

    #[inline]
    fn prefiltered(&self, haystack: &str) -> impl Iterator<Item = usize> + use<> {
        let lowercased;
        let haystack = if self.lowercase {
            lowercased = haystack.to_ascii_lowercase();
            &lowercased
        } else {
            haystack
        };
        self.mapper.atom_to_re(self.prefilter(haystack)).into_iter()
    }

    /// Returns *whether* any regex in the set matches the haystack.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.matching_indices(haystack).next().is_some()
    }

    /// The indices of the regexes matching the haystack, in ascending
    /// order: [`Regexes::matching`]'s, without compiling the regexes
    /// that are plain literals ([`LazyRegex::is_match`]).
    pub fn matching_indices<'a>(&'a self, haystack: &'a str) -> impl Iterator<Item = usize> + 'a {
        let ascii = haystack.is_ascii();
        self.prefiltered(haystack)
            .filter(move |&idx| self.regexes[idx].is_match_in(haystack, ascii))
    }

    /// Yields the regexes matching the haystack along with their
    /// index.
    ///
    /// The results are guaranteed to be returned in ascending order.
    pub fn matching<'a>(
        &'a self,
        haystack: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Regex)> + 'a {
        let ascii = haystack.is_ascii();
        self.prefiltered(haystack).filter_map(move |idx| {
            let r = self.regexes[idx].compiled_for(ascii).ok()?;
            r.is_match(haystack).then_some((idx, r))
        })
    }

    /// The first regex matching the haystack, with its index and
    /// the capture groups of its leftmost-first match: what
    /// `matching(haystack).next()` then [`Regex::captures`] give, with
    /// one search of that regex instead of two (its `is_match`, then its
    /// captures). A candidate that does not match costs one search
    /// either way; a plain literal's is still answered without one.
    /// On a new container's first 800 distinct user agents, through
    /// `ua-parser`: 349 M instructions for init and the first
    /// invocation, 398 M with the two searches (callgrind).
    pub fn first_captures<'h>(&self, haystack: &'h str) -> Option<(usize, Captures<'h>)> {
        let ascii = haystack.is_ascii();
        self.prefiltered(haystack).find_map(|idx| {
            let lazy = &self.regexes[idx];
            if lazy.literal_match(haystack) == Some(false) {
                return None;
            }
            let caps = lazy.compiled_for(ascii).ok()?.captures(haystack)?;
            Some((idx, caps))
        })
    }

    /// Returns a reference to all the regexes in the set.
    pub fn regexes(&self) -> &[LazyRegex] {
        &self.regexes
    }

    /// Compiles every regex not compiled yet: a lazy set then works
    /// as an eager one, and this reports the first regex that does
    /// not compile, by index.
    pub fn compile_all(&self) -> Result<(), (usize, ParseError)> {
        for (idx, r) in self.regexes.iter().enumerate() {
            if let Err(e) = r.get() {
                return Err((idx, ParseError::from(e.clone())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use itertools::Itertools;

    #[test]
    fn a_literal_matches_as_its_regex_does() {
        let sensitive = Options::new();
        let mut insensitive = Options::new();
        insensitive.case_insensitive(true);
        let mut spaced = Options::new();
        spaced.ignore_whitespace(true);
        // --- what is a literal, and what is not ---
        for (pattern, options, literal) in [
            ("", &sensitive, false),
            ("a", &sensitive, true),
            ("Googlebot\\/", &sensitive, true),
            ("Google-Inspect\\.Tool \\(x\\)", &sensitive, true),
            ("a.b", &sensitive, false),
            ("^Java", &sensitive, false),
            ("bots?", &sensitive, false),
            ("a|b", &sensitive, false),
            ("[wW]get", &sensitive, false),
            ("a\\d", &sensitive, false),
            ("a\\b", &sensitive, false),
            ("a\\", &sensitive, false),
            ("x{2}", &sensitive, false),
            ("(?i)a", &sensitive, false),
            ("a b", &spaced, false),
            ("Straße", &sensitive, true),
            ("Straße", &insensitive, false),
            ("sk", &insensitive, true),
        ] {
            assert_eq!(literal_of(pattern, options).is_some(), literal, "{pattern:?}");
        }
        // Every literal answers as its regex does, on ASCII and other
        // haystacks, the case-folding ones included.
        let haystacks = [
            "", "a", "A", "googlebot/", "Googlebot/2.1", "Mozilla Googlebot/", "SK", "sk", "\u{17f}\u{212a}",
            "x \u{212a}s", "Straße", "STRASSE", "straße", "Google-Inspect.Tool (x)", "google-inspect.tool (X)",
        ];
        for (pattern, options) in [
            ("a", &sensitive),
            ("a", &insensitive),
            ("Googlebot\\/", &sensitive),
            ("Googlebot\\/", &insensitive),
            ("sk", &insensitive),
            ("Straße", &sensitive),
            ("Google-Inspect\\.Tool \\(x\\)", &insensitive),
        ] {
            let regex = options.to_regex(pattern, true, false).unwrap();
            let literal = literal_of(pattern, options).unwrap();
            for haystack in haystacks {
                let by_literal = literal.is_match(haystack);
                assert!(
                    by_literal.is_none_or(|m| m == regex.is_match(haystack)),
                    "{pattern:?} in {haystack:?}"
                );
            }
            // A set answers the same through the literal and the regex.
            let set = Builder::new().lazy(true).push_opt(pattern, options).unwrap().build().unwrap();
            for haystack in haystacks {
                assert_eq!(set.is_match(haystack), regex.is_match(haystack), "{pattern:?} in {haystack:?}");
                assert_eq!(
                    set.matching_indices(haystack).collect_vec(),
                    set.matching(haystack).map(|(i, _)| i).collect_vec()
                );
            }
        }
        // A literal is answered without compiling its regex.
        let set = Builder::new().lazy(true).push("Googlebot\\/").unwrap().build().unwrap();
        assert!(set.is_match("Googlebot/2.1"));
        assert!(!set.regexes()[0].is_compiled());
    }

    #[test]
    fn lines_split_as_str_split_does() {
        for text in ["", "\n", "a", "a\n", "\na", "a\nb", "a\n\nb\n", "é\nü"] {
            assert_eq!(Lines(Some(text)).collect_vec(), text.split('\n').collect_vec(), "{text:?}");
        }
    }

    #[test]
    fn unhex_reads_lowercase_hex_only() {
        // --- edge cases: empty, odd length, a remainder after whole words ---
        assert_eq!(unhex(b""), Some(vec![]));
        assert_eq!(unhex(b"0"), None);
        assert_eq!(unhex(b"0123456789abcdef0"), None);
        assert_eq!(unhex(b"0123456789abcdef01"), Some(vec![1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1]));
        // Every byte value, written as `write_automaton` writes it.
        let all: Vec<u8> = (0..=255).collect();
        let text: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(unhex(text.as_bytes()), Some(all));
        // Every other character, at each place of a word and in the tail.
        for bad in (0..=255u8).filter(|c| !c.is_ascii_digit() && !(b'a'..=b'f').contains(c)) {
            for at in 0..10 {
                let mut text = b"0123456789".to_vec();
                text[at] = bad;
                assert_eq!(unhex(&text), None, "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn a_precomputed_automaton_finds_what_aho_corasick_finds() {
        let patterns = ["Chrome/(\\d+)", "Firefox/(\\d+)", "(?:Mobile|Tablet) Safari", "bot", "^curl/"];
        let precomputed = patterns
            .iter()
            .try_fold(Builder::new(), |b, p| b.push(p))
            .unwrap()
            .precompute();
        assert!(precomputed.contains("\ndaachorse\n"), "the automaton is precomputed");
        let read = patterns
            .iter()
            .try_fold(Builder::from_precomputed(&precomputed).unwrap(), |b, p| b.push(p))
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(read.prefilter, Prefilter::Daac(_)));
        let built = patterns
            .iter()
            .try_fold(Builder::new(), |b, p| b.push(p))
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(built.prefilter, Prefilter::Aho(_)));
        for haystack in [
            "",
            "Mozilla/5.0 Chrome/120.0 Mobile Safari/537.36",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "curl/8.0",
            "Firefox/3 Firefox/4 CHROME/5",
        ] {
            assert_eq!(
                read.matching(haystack).map(|(i, _)| i).collect_vec(),
                built.matching(haystack).map(|(i, _)| i).collect_vec(),
                "{haystack}"
            );
        }
        // A damaged automaton is refused, not read.
        let damaged = precomputed.replacen("daachorse\n", "daachorse\n1", 1);
        assert!(Builder::from_precomputed(&damaged).is_err());
        // One digit changed anywhere in it: refused, or read and searched
        // without going out of bounds.
        // The hex is the last line.
        let end = precomputed.len() - 1;
        let hex_start = precomputed[..end].rfind('\n').unwrap() + 1;
        for at in (hex_start..end).step_by(7) {
            let mut text = precomputed.clone().into_bytes();
            text[at] = if text[at] == b'f' { b'0' } else { b'f' };
            let text = String::from_utf8(text).unwrap();
            let Ok(builder) = Builder::from_precomputed(&text) else {
                continue;
            };
            let set = patterns
                .iter()
                .try_fold(builder, |b, p| b.push(p))
                .unwrap()
                .build()
                .unwrap();
            for haystack in ["Mozilla/5.0 Chrome/120.0 Mobile Safari", "curl/8.0 bot", "firefox/1"] {
                let _ = set.matching(haystack).count();
            }
        }
    }

    #[test]
    fn empty_filter() {
        let f = Builder::new().build().unwrap();
        assert_eq!(f.prefilter("0123").collect_vec(), vec![]);

        assert_eq!(f.matching("foo").count(), 0);
    }

    #[test]
    fn empty_pattern() {
        let f = Builder::new().push("").unwrap().build().unwrap();

        assert_eq!(f.prefilter("0123").collect_vec(), vec![]);

        assert_eq!(
            f.matching("0123").map(|(idx, _)| idx).collect_vec(),
            vec![0]
        );
    }

    #[test]
    fn small_or_test() {
        let f = Builder::new_atom_len(4)
            .push("(foo|bar)")
            .unwrap()
            .build()
            .unwrap();

        assert_eq!(f.prefilter("lemurs bar").collect_vec(), vec![]);

        assert_eq!(
            f.matching("lemurs bar").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );

        let f = Builder::new().push("(foo|bar)").unwrap().build().unwrap();

        assert_eq!(f.prefilter("lemurs bar").collect_vec(), vec![1]);

        assert_eq!(
            f.matching("lemurs bar").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
    }

    #[test]
    fn basic_matches() {
        let f = Builder::new()
            .push("(abc123|abc|defxyz|ghi789|abc1234|xyz).*[x-z]+")
            .unwrap()
            .push("abcd..yyy..yyyzzz")
            .unwrap()
            .push("mnmnpp[a-z]+PPP")
            .unwrap()
            .build()
            .unwrap();

        assert_eq!(
            f.matching("abc121212xyz").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );

        assert_eq!(
            f.matching("abc12312yyyzzz")
                .map(|(idx, _)| idx)
                .collect_vec(),
            vec![0],
        );

        assert_eq!(
            f.matching("abcd12yyy32yyyzzz")
                .map(|(idx, _)| idx)
                .collect_vec(),
            vec![0, 1],
        );
    }

    #[test]
    fn basics() {
        // In re2 this is the `MoveSemantics` test, which is... so not
        // necessary for us. But it's a pair of extra regexes we can
        // test

        let f = Builder::new().push("foo\\d+").unwrap().build().unwrap();

        assert_eq!(
            f.matching("abc foo1 xyz").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
        assert_eq!(
            f.matching("abc bar2 xyz").map(|(idx, _)| idx).collect_vec(),
            vec![],
        );

        let f = Builder::new().push("bar\\d+").unwrap().build().unwrap();

        assert_eq!(
            f.matching("abc foo1 xyz").map(|(idx, _)| idx).collect_vec(),
            vec![],
        );
        assert_eq!(
            f.matching("abc bar2 xyz").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
    }

    #[test]
    fn bulk_api() {
        use std::io::BufRead as _;

        Builder::new().push_all(["a", "b"]).unwrap();

        Builder::new()
            .push_all(vec!["a".to_string(), "b".to_string()])
            .unwrap();

        Builder::new().push_all("a\nb\nc\nd\n".lines()).unwrap();

        Builder::new()
            .push_all(b"a\nb\nc\nd\n".lines().map(|l| l.unwrap()))
            .unwrap();
    }

    #[test]
    fn alternate() {
        let f = Builder::new().push("abc|").unwrap().build().unwrap();
        assert_eq!(
            f.matching("abcde").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
        assert_eq!(f.matching("xyz").map(|(idx, _)| idx).collect_vec(), vec![0],);
    }

    /// The spans of every group of the leftmost-first match.
    fn spans(caps: Option<Captures<'_>>) -> Option<Vec<Option<std::ops::Range<usize>>>> {
        caps.map(|c| (0..c.len()).map(|i| c.get(i).map(|m| m.range())).collect())
    }

    #[test]
    fn the_ascii_regex_matches_as_the_unicode_one_in_ascii_text() {
        let insensitive = {
            let mut o = Options::new();
            o.case_insensitive(true);
            o
        };
        let sensitive = Options::new();
        // Each pattern with whether it compiles without Unicode.
        let patterns: [(&str, &Options, bool); 13] = [
            ("\\pL+", &sensitive, false),
            ("\\p{Greek}(\\d)", &sensitive, false),
            ("(?i)é", &sensitive, true),
            ("(Chrome)/(\\d+)\\.(\\d+)", &sensitive, true),
            ("(\\w+)\\s(\\w+)", &sensitive, true),
            ("\\bbot\\b", &sensitive, true),
            ("sk(y)", &insensitive, true),
            ("k.(s)", &insensitive, true),
            ("([^/]+)/([^ ]*)", &sensitive, true),
            ("^(.*?)(?:Mobile|)( Safari)", &sensitive, true),
            ("Straße (\\d)", &sensitive, true),
            ("[[:alpha:]]+(\\d?)$", &sensitive, true),
            ("(?:^|[^g])news", &insensitive, true),
        ];
        let haystacks = [
            "",
            "Mozilla/5.0 (X11) Chrome/120.0.1 Safari/537.36",
            "a bot/1.0",
            "robot",
            "SKY kiss KISS",
            "x/yz news",
            "gnews Straße 4",
            "abc9",
            // Not ASCII: the Unicode regex answers.
            "Chrome/١٢.٣",
            "\u{212a}i\u{17f}s \u{17f}ky",
            "bot\u{e9} bot",
            "Straße 4 Ünews",
        ];
        for (pattern, options, ascii) in patterns {
            let lazy = LazyRegex::new(pattern, options, true);
            let unicode = regex::RegexBuilder::new(pattern)
                .case_insensitive(options.case_insensitive)
                .build()
                .unwrap();
            assert_eq!(lazy.captures_len(), unicode.captures_len(), "{pattern}");
            for haystack in haystacks {
                let re = lazy.get_for(haystack).unwrap();
                let want = unicode
                    .captures(haystack)
                    .map(|c| c.iter().map(|m| m.map(|m| m.range())).collect());
                assert_eq!(spans(re.captures(haystack)), want, "{pattern} in {haystack:?}");
                assert_eq!(lazy.is_match(haystack), want.is_some(), "{pattern} in {haystack:?}");
                for start in [0, 1, 5, haystack.len()] {
                    if !haystack.is_char_boundary(start.min(haystack.len())) {
                        continue;
                    }
                    let start = start.min(haystack.len());
                    assert_eq!(
                        re.find_at(haystack, start).map(|m| m.range()),
                        unicode.find_at(haystack, start).map(|m| m.range()),
                        "{pattern} in {haystack:?} from {start}"
                    );
                }
                assert_eq!(re.find_at(haystack, haystack.len() + 1), None);
            }
            assert_eq!(
                matches!(lazy.ascii.get(), Some(Some(_))),
                ascii,
                "{pattern} compiled without Unicode"
            );
        }
    }

    #[test]
    fn a_lone_regex_that_does_not_compile_matches_nothing() {
        let bad = LazyRegex::new("(unclosed", &Options::new(), true);
        assert!(bad.get().is_err());
        assert!(bad.get_for("ascii").is_err());
        assert!(!bad.is_match("(unclosed"));
        assert_eq!(bad.captures_len(), 0);
        let good = LazyRegex::new("(a)(b)?", &Options::new(), false);
        assert!(!good.is_compiled());
        assert_eq!(good.captures_len(), 3);
    }

    #[test]
    fn first_captures_is_the_first_match_and_its_groups() {
        let patterns = [
            "(foo)(\\d+)",
            "literal",
            "(bar)(\\d+)?",
            "(?i)(é)",
            "(\\w+)/(\\d)",
        ];
        let set = Builder::new()
            .lazy(true)
            .one_shot(true)
            .push_all(patterns)
            .unwrap()
            .build()
            .unwrap();
        for haystack in [
            "",
            "nothing here",
            "a literal",
            "bar foo12",
            "xbar",
            "É/1",
            "zz/9 literal",
            "é",
        ] {
            let want = set
                .matching(haystack)
                .next()
                .map(|(idx, re)| (idx, spans(re.captures(haystack))));
            let got = set
                .first_captures(haystack)
                .map(|(idx, caps)| (idx, spans(Some(caps))));
            assert_eq!(got, want, "{haystack:?}");
        }
    }

    #[test]
    fn lazy_compiles_only_what_the_prefilter_selects() {
        let patterns = ["foo\\d+", "bar\\d+", "(a)(b)?baz"];
        let lazy = Builder::new()
            .lazy(true)
            .push_all(patterns)
            .unwrap()
            .build()
            .unwrap();
        let eager = Builder::new().push_all(patterns).unwrap().build().unwrap();
        assert!(lazy.regexes().iter().all(|r| !r.is_compiled()));
        assert!(eager.regexes().iter().all(LazyRegex::is_compiled));
        for (l, e) in lazy.regexes().iter().zip(eager.regexes()) {
            assert_eq!(l.captures_len(), e.get().unwrap().captures_len());
        }
        assert_eq!(lazy.regexes()[2].captures_len(), 3);

        assert_eq!(
            lazy.matching("abc bar2 xyz").map(|(idx, _)| idx).collect_vec(),
            vec![1],
        );
        let compiled = lazy.regexes().iter().map(LazyRegex::is_compiled).collect_vec();
        assert_eq!(compiled, vec![false, true, false]);
        for input in ["abc foo1 xyz", "bar", "abaz", "bar3 foo4", ""] {
            assert_eq!(
                lazy.matching(input).map(|(idx, _)| idx).collect_vec(),
                eager.matching(input).map(|(idx, _)| idx).collect_vec(),
                "{input}"
            );
            assert_eq!(lazy.is_match(input), eager.is_match(input), "{input}");
        }
        lazy.compile_all().unwrap();
        assert!(lazy.regexes().iter().all(LazyRegex::is_compiled));
    }

    /// The prefilter's walk reuses per-thread buffers: calls one after
    /// the other, over sets of different sizes, answer as each regex
    /// does on its own.
    #[test]
    fn repeated_matching_answers_as_each_regex() {
        let small = ["abc.*def", "abc|xyz", "(?:hello|howdy) world", "^q"];
        let large: Vec<String> = (0..300)
            .map(|i| format!("w{i:03}x.*y{i:03}z|only{i:03}"))
            .chain(small.iter().map(|s| s.to_string()))
            .collect();
        let sets = [
            Builder::new().push_all(small).unwrap().build().unwrap(),
            Builder::new().push_all(&large).unwrap().build().unwrap(),
        ];
        let inputs = [
            "abc def", "abc", "xyz", "howdy world", "hello", "q", "", "w007x y007z",
            "w007x y008z", "only299 abcdef", "abc def", "w007x y007z",
        ];
        for _ in 0..2 {
            for set in &sets {
                for input in inputs {
                    let want = set
                        .regexes()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.get().unwrap().is_match(input))
                        .map(|(i, _)| i)
                        .collect_vec();
                    assert_eq!(
                        set.matching(input).map(|(i, _)| i).collect_vec(),
                        want,
                        "{input}"
                    );
                    // The candidates too, against a thread of its own
                    // (fresh buffers): a count left over from an earlier
                    // call would select more.
                    let fresh = std::thread::scope(|scope| {
                        scope
                            .spawn(|| set.prefiltered(input).collect_vec())
                            .join()
                            .unwrap()
                    });
                    assert_eq!(set.prefiltered(input).collect_vec(), fresh, "{input}");
                }
            }
        }
    }

    #[test]
    fn one_shot_matches_as_the_default() {
        let patterns = ["foo\\d+", "(a)(b)?baz", "^[^ ]{5,}$", "(?i)ΛΜΝ|bar"];
        let one_shot = Builder::new()
            .lazy(true)
            .one_shot(true)
            .push_all(patterns)
            .unwrap()
            .build()
            .unwrap();
        let default = Builder::new().push_all(patterns).unwrap().build().unwrap();
        for input in ["", "foo1", "xabbaz", "abaz", "nospaces", "λμν", "BAR x", "a b"] {
            assert_eq!(
                one_shot.matching(input).map(|(idx, _)| idx).collect_vec(),
                default.matching(input).map(|(idx, _)| idx).collect_vec(),
                "{input}"
            );
            for (o, d) in one_shot.regexes().iter().zip(default.regexes()) {
                let o_pattern = o.as_str();
                let (o, d) = (o.get().unwrap(), d.get().unwrap());
                let spans = |r: &Regex| {
                    r.captures(input)
                        .map(|c| (0..c.len()).map(|i| c.get(i).map(|m| m.range())).collect_vec())
                };
                // And as the `regex` crate answers.
                let reference = regex::Regex::new(o_pattern).unwrap();
                let want = reference
                    .captures(input)
                    .map(|c| c.iter().map(|m| m.map(|m| m.range())).collect_vec());
                assert_eq!(spans(o), want, "{input}");
                assert_eq!(spans(o), spans(d), "{input}");
            }
        }
    }

    #[test]
    fn a_precomputed_set_matches_as_the_set_it_was_computed_from() {
        let patterns = [
            "foo\\d+",
            "bar\\d+",
            "(a)(b)?baz",
            "",
            "(abc123|abc|defxyz|ghi789|abc1234|xyz).*[x-z]+",
            "line\\\\break\nhere\r",
            "ΛΜΝΟΠ",
        ];
        let mut insensitive = Options::new();
        insensitive.case_insensitive(true);
        let push = |b: Builder| -> Result<Builder, ParseError> {
            b.push_all(patterns)?.push_opt("(?:mnmn)pp[a-z]+PPP", &insensitive)
        };
        let eager = push(Builder::new()).unwrap().build().unwrap();
        let data = push(Builder::new()).unwrap().precompute();
        let pre = push(Builder::from_precomputed(&data).unwrap())
            .unwrap()
            .build()
            .unwrap();
        assert!(pre.regexes().iter().all(|r| !r.is_compiled()));
        for (p, e) in pre.regexes().iter().zip(eager.regexes()) {
            assert_eq!(p.captures_len(), e.captures_len());
        }
        for input in [
            "abc foo1 xyz",
            "bar",
            "abaz",
            "bar3 foo4",
            "",
            "abc121212xyz",
            "line\\break\nhere\r",
            "λμνοπ ΛΜΝΟΠ",
            "MNMNPPxyzPPP",
        ] {
            assert_eq!(
                pre.matching(input).map(|(idx, _)| idx).collect_vec(),
                eager.matching(input).map(|(idx, _)| idx).collect_vec(),
                "{input}"
            );
        }
    }

    #[test]
    fn a_precomputed_set_refuses_other_patterns() {
        let data = Builder::new().push_all(["foo", "bar"]).unwrap().precompute();
        let b = || Builder::from_precomputed(&data).unwrap();
        assert!(matches!(
            b().push("foo").unwrap().push("baz"),
            Err(ParseError::NotPrecomputed(1))
        ));
        let mut insensitive = Options::new();
        insensitive.case_insensitive(true);
        assert!(matches!(
            b().push_opt("foo", &insensitive),
            Err(ParseError::NotPrecomputed(0))
        ));
        assert!(matches!(
            b().push_all(["foo", "bar", "baz"]),
            Err(ParseError::NotPrecomputed(2))
        ));
        assert!(matches!(
            b().push("foo").unwrap().build(),
            Err(BuildError::NotPrecomputed(_))
        ));
        for damaged in ["", "regex-filtered precomputed 1\n2\n", &data[..data.len() / 2]] {
            assert!(
                Builder::from_precomputed(damaged).is_err(),
                "{damaged:?}"
            );
        }
        // The header, the count, the two regexes, the sizes, the
        // unfiltered regexes, then the atoms' entries: one out of range.
        let mut lines: Vec<&str> = data.split('\n').collect();
        lines[6] = "999999";
        assert!(Builder::from_precomputed(&lines.join("\n")).is_err());
    }

    #[test]
    fn lazy_reports_syntax_errors_when_pushed() {
        assert!(matches!(
            Builder::new().lazy(true).push("(unclosed"),
            Err(ParseError::SyntaxError(_))
        ));
    }

    #[test]
    fn non_ascii() {
        let f = Builder::new().push("ΛΜΝΟΠ").unwrap().build().unwrap();
        assert_eq!(
            f.matching("ΛΜΝΟΠ").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
        assert_eq!(
            f.matching("λμνοπ").map(|(idx, _)| idx).collect_vec(),
            vec![],
        );
        assert_eq!(
            f.matching("Λμνοπ").map(|(idx, _)| idx).collect_vec(),
            vec![],
        );
        let f = Builder::new().push("(?i)ΛΜΝΟΠ").unwrap().build().unwrap();
        assert_eq!(
            f.matching("ΛΜΝΟΠ").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
        assert_eq!(
            f.matching("λμνοπ").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
        assert_eq!(
            f.matching("Λμνοπ").map(|(idx, _)| idx).collect_vec(),
            vec![0],
        );
    }
}
