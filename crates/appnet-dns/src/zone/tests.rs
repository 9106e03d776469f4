//! Zone-file tests: every directive and syntax form, the validation rules with their line
//! numbers, the lookups the authority needs, and the catalog.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::*;
use crate::wire::{Name, RData, Record, RecordType};

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// An in-memory file system for `$INCLUDE`.
fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> io::Result<String> + use<> {
    let map: HashMap<PathBuf, String> = entries
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    move |path| {
        map.get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}

fn parse(text: &str) -> Result<ParsedZone, ZoneError> {
    Zone::parse(
        text,
        &name("example.com."),
        Path::new("zones/example.zone"),
        no_includes,
    )
}

fn zone(text: &str) -> Zone {
    match parse(text) {
        Ok(parsed) => parsed.zone,
        Err(err) => panic!("{err}"),
    }
}

fn error(text: &str) -> ZoneError {
    parse(text).expect_err("the zone should not load")
}

const HEAD: &str =
    "$TTL 1h\n@ IN SOA ns1 hostmaster 1 2h 1h 1w 5m\n  IN NS ns1\nns1 IN A 192.0.2.53\n";

fn rrset<'z>(zone: &'z Zone, owner: &str, rtype: RecordType) -> &'z RRset {
    zone.node(&name(owner))
        .and_then(|node| node.get(rtype))
        .unwrap_or_else(|| panic!("no {rtype} at {owner}"))
}

#[test]
fn directives_and_syntax() {
    let text = r#"
$ORIGIN example.com.
$TTL 1h30m
@   IN  SOA ns1.example.com. hostmaster (
        2024010101 ; serial
        2h         ; refresh
        1h 1w      ; retry, expire
        300 )      ; minimum
    IN  NS  ns1
    NS  ns2.example.net.
ns1 600 IN A 192.0.2.1
www IN 120 A 192.0.2.2
        AAAA 2001:db8::2
mail    MX 10 mx.example.net.
txt TXT "v=spf1 -all; really" plain "say \"hi\""
a\.b A 192.0.2.3
semi\059colon A 192.0.2.4
$ORIGIN sub
host A 192.0.2.5
@ TXT "at sub"
$ORIGIN example.com.
abs.example.com. A 192.0.2.6
private TYPE65280 \# 4 0a000001
generic A \# 4 C0000207
"#;
    let zone = zone(text);
    assert_eq!(zone.origin(), &name("example.com."));
    assert_eq!(zone.serial(), 2024010101);
    assert_eq!(zone.soa().ttl, 5400);
    let RData::Soa {
        refresh,
        expire,
        minimum,
        ..
    } = zone.soa().rdata
    else {
        panic!("not an SOA");
    };
    assert_eq!((refresh, expire, minimum), (7200, 604_800, 300));
    // Blank owners reuse the previous owner; NS without TTL or class takes $TTL.
    let ns = rrset(&zone, "example.com.", RecordType::NS);
    assert_eq!(ns.ttl, 5400);
    assert_eq!(
        ns.rdatas,
        [
            RData::Ns(name("ns1.example.com.")),
            RData::Ns(name("ns2.example.net."))
        ]
    );
    // TTL and class in either order.
    assert_eq!(rrset(&zone, "ns1.example.com.", RecordType::A).ttl, 600);
    assert_eq!(rrset(&zone, "www.example.com.", RecordType::A).ttl, 120);
    assert_eq!(rrset(&zone, "www.example.com.", RecordType::AAAA).ttl, 5400);
    let txt = rrset(&zone, "txt.example.com.", RecordType::TXT);
    assert_eq!(
        txt.rdatas,
        [RData::Txt(vec![
            b"v=spf1 -all; really".to_vec(),
            b"plain".to_vec(),
            b"say \"hi\"".to_vec()
        ])]
    );
    // `\.` is a dot inside a label; `\059` is `;`.
    let escaped = Name::from_labels([&b"a.b"[..], b"example", b"com"]).unwrap();
    assert!(zone.node(&escaped).is_some());
    let semi = Name::from_labels([&b"semi;colon"[..], b"example", b"com"]).unwrap();
    assert!(zone.node(&semi).is_some());
    // $ORIGIN relative to the current origin.
    assert!(zone.node(&name("host.sub.example.com.")).is_some());
    assert!(zone.node(&name("sub.example.com.")).is_some());
    assert!(zone.node(&name("abs.example.com.")).is_some());
    assert_eq!(
        rrset(&zone, "private.example.com.", RecordType(65280)).rdatas,
        [RData::Unknown {
            rtype: RecordType(65280),
            data: vec![10, 0, 0, 1]
        }]
    );
    assert_eq!(
        rrset(&zone, "generic.example.com.", RecordType::A).rdatas,
        [RData::A(Ipv4Addr::new(192, 0, 2, 7))]
    );
}

#[test]
fn include_with_in_memory_loader() {
    let main = "$TTL 300\n@ SOA ns1 host 1 1 1 1 1\n NS ns1\n$INCLUDE hosts/hosts.zone hosts\nafter A 192.0.2.9\n";
    let hosts = "$ORIGIN elsewhere.example.com.\nweb A 192.0.2.10\n$INCLUDE more.zone\n";
    let more = "ns1.example.com. A 192.0.2.11\nmore A 192.0.2.12\n";
    let loader = files(&[
        ("zones/hosts/hosts.zone", hosts),
        ("zones/hosts/more.zone", more),
    ]);
    let parsed = Zone::parse(
        main,
        &name("example.com."),
        Path::new("zones/main.zone"),
        loader,
    )
    .unwrap();
    let zone = parsed.zone;
    assert!(zone.node(&name("web.elsewhere.example.com.")).is_some());
    assert!(zone.node(&name("more.elsewhere.example.com.")).is_some());
    assert!(zone.node(&name("ns1.example.com.")).is_some());
    // The included file's $ORIGIN does not leak back out.
    assert!(zone.node(&name("after.example.com.")).is_some());
    assert_eq!(zone.len(), 6);
}

#[test]
fn include_errors_name_the_included_file() {
    let main = "$TTL 300\n@ SOA ns1 host 1 1 1 1 1\n NS ns1\n$INCLUDE inc.zone\n";
    let loader = files(&[("zones/inc.zone", "ok A 192.0.2.1\nbad A 1.2.3\n")]);
    let err = Zone::parse(
        main,
        &name("example.com."),
        Path::new("zones/main.zone"),
        loader,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"zones/inc.zone:2: bad A address "1.2.3""#
    );

    let err = Zone::parse(
        main,
        &name("example.com."),
        Path::new("zones/main.zone"),
        files(&[]),
    )
    .unwrap_err();
    assert_eq!(
        (err.file.as_path(), err.line),
        (Path::new("zones/main.zone"), 4)
    );
    assert!(matches!(err.kind, ZoneErrorKind::Include { .. }));

    // A file including itself stops at the depth limit.
    let looping = "$INCLUDE self.zone\n";
    let err = Zone::parse(
        looping,
        &name("example.com."),
        Path::new("self.zone"),
        files(&[("self.zone", looping)]),
    )
    .unwrap_err();
    assert_eq!(
        err.kind,
        ZoneErrorKind::IncludeDepth {
            max: MAX_INCLUDE_DEPTH
        }
    );
}

#[test]
fn ttl_defaults() {
    // Without $TTL: the previous record's TTL (RFC 1035 §5.1).
    let zone = zone("@ 100 SOA ns1 host 1 1 1 1 7\n NS ns1\nns1 A 192.0.2.1\n");
    assert_eq!(rrset(&zone, "example.com.", RecordType::NS).ttl, 100);
    assert_eq!(rrset(&zone, "ns1.example.com.", RecordType::A).ttl, 100);
    // Nothing stated at all: the legacy SOA MINIMUM, with a warning.
    let parsed = parse("@ SOA ns1 host 1 1 1 1 7\n NS ns1\n").unwrap();
    assert_eq!(rrset(&parsed.zone, "example.com.", RecordType::NS).ttl, 7);
    assert!(matches!(
        parsed.warnings[0].kind,
        ZoneWarningKind::SoaMinimumTtl(7)
    ));
    // A record before any TTL source.
    let err = error("www A 192.0.2.1\n@ 1 SOA ns1 host 1 1 1 1 7\n");
    assert_eq!((err.line, err.kind), (1, ZoneErrorKind::NoTtl));
    let err = error("$TTL 2147483648\n");
    assert_eq!(err.kind, ZoneErrorKind::TtlTooLarge(2_147_483_648));
    let err = error("$TTL 1h30\n");
    assert_eq!(err.kind, ZoneErrorKind::BadTtl("1h30".into()));
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("www A 1.2.3", 5, r#"bad A address "1.2.3""#),
        ("www FOO 1.2.3.4", 5, r#"unknown record type "FOO""#),
        (
            "www CH A 1.2.3.4",
            5,
            "unsupported class CH: only IN is served",
        ),
        (
            "www.example.org. A 192.0.2.1",
            5,
            "www.example.org. is outside the zone example.com. (out-of-zone data)",
        ),
        (
            "ns1 CNAME www",
            5,
            "ns1.example.com. has a CNAME and other data (RFC 1034 §3.6.2, RFC 2181 §10.1)",
        ),
        (
            "@ CNAME www",
            5,
            "CNAME at the zone apex example.com., which must hold SOA and NS",
        ),
        (
            "a.*.b A 192.0.2.1",
            5,
            "a.*.b.example.com.: '*' is a wildcard only as the leftmost label (RFC 4592 §2.1.1)",
        ),
        (
            "sub SOA ns1 host 1 1 1 1 1",
            5,
            "SOA record at sub.example.com., which is not the zone apex",
        ),
        (
            "@ SOA ns2 host 2 1 1 1 1",
            5,
            "more than one SOA record at the zone apex",
        ),
        (
            "$GENERATE 1-10 h$ A 1.2.3.$",
            5,
            r#"unknown directive "$GENERATE" (known: $ORIGIN, $TTL, $INCLUDE)"#,
        ),
        ("www 1 2 A 1.2.3.4", 5, "TTL given twice"),
        (
            "www AXFR x",
            5,
            "AXFR is a query-only meta-type and cannot appear in a zone",
        ),
        ("www MX ten mail", 5, r#"bad MX MX preference "ten""#),
        ("www", 5, "missing record type"),
    ];
    for (line, expected_line, message) in cases {
        let err = error(&format!("{HEAD}{line}\n"));
        assert_eq!(
            err.to_string(),
            format!("zones/example.zone:{expected_line}: {message}"),
            "{line}"
        );
    }
    // The conflicting record is named whichever came first.
    let err = error(&format!("{HEAD}alias CNAME www\nalias A 192.0.2.1\n"));
    assert_eq!(
        (err.line, err.kind),
        (
            6,
            ZoneErrorKind::CnameAndOtherData(name("alias.example.com."))
        )
    );
    let err = error(&format!("{HEAD}alias CNAME www\nalias CNAME mail\n"));
    assert_eq!(
        (err.line, err.kind),
        (6, ZoneErrorKind::MultipleCname(name("alias.example.com.")))
    );
}

#[test]
fn zone_level_errors() {
    let err = error("$TTL 1h\n@ NS ns1\n");
    assert_eq!(
        err.to_string(),
        "zones/example.zone: no SOA record at the zone apex example.com."
    );
    let err = error("$TTL 1h\n@ SOA ns1 host 1 1 1 1 1\n");
    assert_eq!(err.kind, ZoneErrorKind::MissingApexNs(name("example.com.")));
    let err = error("$TTL 1h\n\tA 192.0.2.1\n");
    assert_eq!((err.line, err.kind), (2, ZoneErrorKind::NoOwner));
    let err = error("$TTL 1h\n@ SOA ns1 host (1 1 1 1 1\n NS ns1\n");
    assert_eq!(
        (err.line, err.kind),
        (4, ZoneErrorKind::UnclosedParen { opened: 2 })
    );
}

#[test]
fn duplicates_and_ttl_mismatches() {
    let parsed = parse(&format!(
        "{HEAD}www 300 A 192.0.2.1\nwww 60 A 192.0.2.2\nwww 300 A 192.0.2.1\nWWW 300 A 192.0.2.1\n"
    ))
    .unwrap();
    let zone = &parsed.zone;
    let set = rrset(zone, "www.example.com.", RecordType::A);
    assert_eq!(set.ttl, 60);
    assert_eq!(set.rdatas.len(), 2);
    let kinds: Vec<_> = parsed
        .warnings
        .iter()
        .map(|w| (w.line, w.kind.clone()))
        .collect();
    let owner = name("www.example.com.");
    assert!(kinds.contains(&(
        7,
        ZoneWarningKind::Duplicate {
            owner: owner.clone(),
            rtype: RecordType::A
        }
    )));
    assert!(kinds.contains(&(
        8,
        ZoneWarningKind::Duplicate {
            owner: owner.clone(),
            rtype: RecordType::A
        }
    )));
    assert!(kinds.contains(&(
        6,
        ZoneWarningKind::TtlMismatch {
            owner,
            rtype: RecordType::A,
            used: 60
        }
    )));
    assert_eq!(zone.len(), 5);
}

#[test]
fn infer_origin_from_first_owner() {
    let text =
        "example.com. 3600 IN SOA ns1 hostmaster 7 1 1 1 60\n IN NS ns1\nns1 IN A 192.0.2.1\n";
    let parsed = Zone::parse_infer_origin(text, Path::new("db.example"), no_includes).unwrap();
    assert_eq!(parsed.zone.origin(), &name("example.com."));
    assert_eq!(parsed.zone.serial(), 7);
    assert!(parsed.zone.node(&name("ns1.example.com.")).is_some());

    let text = "$ORIGIN example.org.\n$TTL 60\n@ SOA ns1 host 1 1 1 1 1\n NS ns1\n";
    let parsed = Zone::parse_infer_origin(text, Path::new("db"), no_includes).unwrap();
    assert_eq!(parsed.zone.origin(), &name("example.org."));

    let err =
        Zone::parse_infer_origin("www A 192.0.2.1\n", Path::new("db"), no_includes).unwrap_err();
    assert_eq!(
        (err.line, err.kind),
        (1, ZoneErrorKind::NoOrigin("www".into()))
    );
    let err = Zone::parse_infer_origin("a.example. 60 A 192.0.2.1\n", Path::new("db"), no_includes)
        .unwrap_err();
    assert_eq!(err.kind, ZoneErrorKind::NoSoa);
}

#[test]
fn load_reads_through_the_loader() {
    let text = "example.net. 60 SOA ns1 host 1 1 1 1 1\n NS ns1\n";
    let loader = files(&[("db.net", text)]);
    let parsed = Zone::load(Path::new("db.net"), None, &loader).unwrap();
    assert_eq!(parsed.zone.origin(), &name("example.net."));
    let parsed = Zone::load(Path::new("db.net"), Some(&name("example.net.")), &loader).unwrap();
    assert_eq!(parsed.zone.len(), 2);
    let err = Zone::load(Path::new("missing"), None, &loader).unwrap_err();
    assert!(matches!(err.kind, ZoneErrorKind::Read(_)));
}

const TREE: &str = "$TTL 1h
@ SOA ns1 host 1 1 1 1 1
  NS ns1
ns1 A 192.0.2.1
a.b.c A 192.0.2.2
*.wild TXT wild
sub NS ns.sub
ns.sub A 192.0.2.3
deep.below.sub A 192.0.2.4
below.sub NS ns.elsewhere.
";

#[test]
fn lookups_for_the_authority() {
    let zone = zone(TREE);
    assert!(zone.is_empty_non_terminal(&name("b.c.example.com.")));
    assert!(zone.is_empty_non_terminal(&name("c.example.com.")));
    assert!(!zone.is_empty_non_terminal(&name("a.b.c.example.com.")));
    assert!(!zone.exists(&name("x.c.example.com.")));
    assert_eq!(
        zone.closest_encloser(&name("x.y.b.c.example.com.")),
        Some(name("b.c.example.com."))
    );
    assert_eq!(
        zone.closest_encloser(&name("q.wild.example.com.")),
        Some(name("wild.example.com."))
    );
    assert_eq!(zone.closest_encloser(&name("example.org.")), None);
    let (cut, ns) = zone
        .delegation(&name("x.deep.below.sub.example.com."))
        .unwrap();
    assert_eq!(cut, &name("sub.example.com."));
    assert_eq!(ns.rdatas, [RData::Ns(name("ns.sub.example.com."))]);
    assert!(zone.delegation(&name("example.com.")).is_none());
    assert!(zone.delegation(&name("a.b.c.example.com.")).is_none());
    let cuts: Vec<_> = zone
        .delegations()
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(cuts, [name("sub.example.com.")]);
    assert_eq!(zone.negative_ttl(), 1);
}

#[test]
fn records_in_canonical_order() {
    let zone = zone(TREE);
    let owners: Vec<String> = zone.records().map(|r| r.name.to_string()).collect();
    assert_eq!(
        owners,
        [
            "example.com.",
            "example.com.",
            "a.b.c.example.com.",
            "ns1.example.com.",
            "sub.example.com.",
            "below.sub.example.com.",
            "deep.below.sub.example.com.",
            "ns.sub.example.com.",
            "*.wild.example.com.",
        ]
    );
    assert_eq!(zone.len(), owners.len());
}

#[test]
fn from_records_validates() {
    let origin = name("example.com.");
    let soa = RData::Soa {
        mname: name("ns1.example.com."),
        rname: name("host.example.com."),
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: 1,
    };
    let records = vec![
        Record::new(origin.clone(), 60, soa),
        Record::new(origin.clone(), 60, RData::Ns(name("ns1.example.com."))),
        Record::new(name("ns1.example.com."), 60, RData::A(Ipv4Addr::LOCALHOST)),
    ];
    let parsed = Zone::from_records(&origin, records.clone()).unwrap();
    assert_eq!(parsed.zone.records().collect::<Vec<_>>(), records);
    let mut bad = records;
    bad.push(Record::new(
        name("x.example.org."),
        60,
        RData::A(Ipv4Addr::LOCALHOST),
    ));
    let err = Zone::from_records(&origin, bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<records>:4: x.example.org. is outside the zone example.com. (out-of-zone data)"
    );
}

#[test]
fn catalog_finds_the_most_enclosing_zone() {
    let parent = zone(TREE);
    let child = Zone::parse(
        "$TTL 60\n@ SOA ns host 1 1 1 1 1\n NS ns\n",
        &name("sub.example.com."),
        Path::new("sub"),
        no_includes,
    )
    .unwrap()
    .zone;
    let catalog: Catalog = [parent, child].into_iter().collect();
    assert_eq!(catalog.len(), 2);
    let origin = |q: &str| catalog.find(&name(q)).map(|z| z.origin().to_string());
    assert_eq!(origin("www.example.com."), Some("example.com.".into()));
    assert_eq!(origin("EXAMPLE.COM."), Some("example.com.".into()));
    assert_eq!(
        origin("x.sub.example.com."),
        Some("sub.example.com.".into())
    );
    assert_eq!(origin("sub.example.com."), Some("sub.example.com.".into()));
    assert_eq!(origin("example.org."), None);
    assert_eq!(origin("com."), None);
}

#[test]
fn never_panics_on_odd_input() {
    for text in [
        "",
        "\n\n",
        "(",
        ")",
        "\"",
        "\\",
        "$",
        "$TTL",
        "$ORIGIN",
        "$INCLUDE",
        "@",
        "@ (",
        "* A",
        "\u{0}\u{1}",
        "a\\",
        "a \\# 3 00",
        "@ TYPE0 \\# 0",
        "@ SOA",
        "x\ty\tz",
        "é A 192.0.2.1",
    ] {
        let _ = parse(text);
        let _ = Zone::parse_infer_origin(text, Path::new("x"), no_includes);
    }
}
