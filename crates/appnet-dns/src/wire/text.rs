//! Messages as people read them: dig's layout for a whole message, zone-file lines for records,
//! and one-line summaries for traces.
//!
//! The layout follows BIND 9's dig (`;; ->>HEADER<<-`, the flags line, `;; OPT PSEUDOSECTION:`,
//! sections with tab-aligned columns at 24/32/40/48), so output can be compared with dig's side by
//! side. Record text is RFC 1035 §5.1 master-file form.

use std::fmt::{self, Write};

use super::edns::Edns;
use super::message::{Header, Message, Question, Record};

/// dig's column stops: TTL, CLASS, TYPE, RDATA (BIND's debug master style).
const TTL_COLUMN: usize = 24;
const CLASS_COLUMN: usize = 32;
const TYPE_COLUMN: usize = 40;
const RDATA_COLUMN: usize = 48;
const TAB_WIDTH: usize = 8;

impl fmt::Display for Question {
    /// Tab-separated: name, class, type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{}", self.name, self.qclass, self.qtype)
    }
}

impl fmt::Display for Record {
    /// A master-file line, tab-separated: name, TTL, class, type, RDATA.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            self.ttl,
            self.class,
            self.rtype(),
            self.rdata
        )
    }
}

/// A line being laid out in columns the way BIND does: tabs to reach a column, and a single
/// space when the text already passed it.
struct Columns {
    line: String,
    column: usize,
}

impl Columns {
    fn new() -> Self {
        Self {
            line: String::new(),
            column: 0,
        }
    }

    fn text(&mut self, text: &str) {
        self.line.push_str(text);
        self.column += text.chars().count();
    }

    fn indent_to(&mut self, target: usize) {
        let target = target.max(self.column + 1);
        let tabs = target / TAB_WIDTH - self.column / TAB_WIDTH;
        let mut from = self.column;
        if tabs > 0 {
            self.line.extend(std::iter::repeat_n('\t', tabs));
            from = target / TAB_WIDTH * TAB_WIDTH;
        }
        self.line.extend(std::iter::repeat_n(' ', target - from));
        self.column = target;
    }
}

/// One record as dig shows it in a section.
pub fn dig_record_line(record: &Record) -> String {
    let mut line = Columns::new();
    line.text(&record.name.to_string());
    line.indent_to(TTL_COLUMN);
    line.text(&record.ttl.to_string());
    line.indent_to(CLASS_COLUMN);
    line.text(&record.class.to_string());
    line.indent_to(TYPE_COLUMN);
    line.text(&record.rtype().to_string());
    line.indent_to(RDATA_COLUMN);
    line.text(&record.rdata.to_string());
    line.line
}

/// One question as dig shows it (the leading `;` is not counted for the columns, as in dig).
pub fn dig_question_line(question: &Question) -> String {
    let mut line = Columns::new();
    line.text(&question.name.to_string());
    line.indent_to(CLASS_COLUMN);
    line.text(&question.qclass.to_string());
    line.indent_to(TYPE_COLUMN);
    line.text(&question.qtype.to_string());
    format!(";{}", line.line)
}

/// The flags dig lists, in dig's order.
pub fn flag_names(header: &Header) -> Vec<&'static str> {
    [
        (header.qr, "qr"),
        (header.aa, "aa"),
        (header.tc, "tc"),
        (header.rd, "rd"),
        (header.ra, "ra"),
        (header.ad, "ad"),
        (header.cd, "cd"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// A one-line trace summary of a received message's bytes, malformed ones included.
pub fn summarize_wire(bytes: &[u8]) -> String {
    match Message::decode(bytes) {
        Ok(message) => message.summary(),
        Err(err) => format!("malformed message ({} bytes): {err}", bytes.len()),
    }
}

impl fmt::Display for Message {
    /// The body of dig's output, from `;; ->>HEADER<<-` to the last section.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_header(f)?;
        if let Some(edns) = &self.edns {
            write_opt_pseudosection(f, edns)?;
        }
        if !self.questions.is_empty() {
            writeln!(f, ";; QUESTION SECTION:")?;
            for question in &self.questions {
                writeln!(f, "{}", dig_question_line(question))?;
            }
            writeln!(f)?;
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authorities),
            ("ADDITIONAL", &self.additionals),
        ] {
            if records.is_empty() {
                continue;
            }
            writeln!(f, ";; {title} SECTION:")?;
            for record in records {
                writeln!(f, "{}", dig_record_line(record))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl Message {
    fn write_header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = &self.header;
        writeln!(
            f,
            ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
            header.opcode,
            self.rcode(),
            header.id
        )?;
        let flags = flag_names(header).join(" ");
        let space = if flags.is_empty() { "" } else { " " };
        let mbz = if header.z { "; MBZ: 0x4" } else { "" };
        let additional = self.additionals.len() + usize::from(self.edns.is_some());
        writeln!(
            f,
            ";; flags:{space}{flags}{mbz}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {additional}",
            self.questions.len(),
            self.answers.len(),
            self.authorities.len(),
        )?;
        writeln!(f)
    }

    /// One line for traces: `Q 4242 www.example.com. A +rd` for a query,
    /// `R 4242 NOERROR aa www.example.com. A 192.0.2.1 (1 answer)` for a response.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let header = &self.header;
        let _ = write!(out, "{} {}", if header.qr { 'R' } else { 'Q' }, header.id);
        if header.qr {
            let _ = write!(out, " {}", self.rcode());
            for flag in flag_names(header) {
                if !matches!(flag, "qr" | "rd") {
                    let _ = write!(out, " {flag}");
                }
            }
        }
        if header.opcode.value() != 0 {
            let _ = write!(out, " {}", header.opcode);
        }
        self.summarize_question(&mut out);
        if header.qr {
            self.summarize_answers(&mut out);
        } else {
            self.summarize_query_flags(&mut out);
        }
        out
    }

    fn summarize_question(&self, out: &mut String) {
        let Some(question) = self.question() else {
            out.push_str(" (no question)");
            return;
        };
        let _ = write!(out, " {}", question.name);
        if question.qclass != super::Class::IN {
            let _ = write!(out, " {}", question.qclass);
        }
        let _ = write!(out, " {}", question.qtype);
    }

    fn summarize_query_flags(&self, out: &mut String) {
        let header = &self.header;
        for (on, flag) in [(header.rd, "+rd"), (header.ad, "+ad"), (header.cd, "+cd")] {
            if on {
                let _ = write!(out, " {flag}");
            }
        }
        if self.edns.as_ref().is_some_and(|edns| edns.dnssec_ok) {
            out.push_str(" +do");
        }
    }

    /// Up to three answers: bare RDATA when of the asked type, `TYPE RDATA` otherwise (a CNAME
    /// on the way), then the section counts.
    fn summarize_answers(&self, out: &mut String) {
        const SHOWN: usize = 3;
        let qtype = self.question().map(|q| q.qtype);
        let shown: Vec<String> = self
            .answers
            .iter()
            .take(SHOWN)
            .map(|record| match Some(record.rtype()) == qtype {
                true => record.rdata.to_string(),
                false => format!("{} {}", record.rtype(), record.rdata),
            })
            .collect();
        if !shown.is_empty() {
            let _ = write!(out, " {}", shown.join(", "));
            if self.answers.len() > SHOWN {
                out.push_str(", …");
            }
        }
        let _ = write!(out, " ({})", self.section_counts());
    }

    fn section_counts(&self) -> String {
        let answers = self.answers.len();
        let mut parts = vec![format!(
            "{answers} answer{}",
            if answers == 1 { "" } else { "s" }
        )];
        for (count, name) in [
            (self.authorities.len(), "authority"),
            (self.additionals.len(), "additional"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {name}"));
            }
        }
        parts.join(", ")
    }
}

fn write_opt_pseudosection(f: &mut fmt::Formatter<'_>, edns: &Edns) -> fmt::Result {
    writeln!(f, ";; OPT PSEUDOSECTION:")?;
    let flags = if edns.dnssec_ok { " do" } else { "" };
    writeln!(
        f,
        "; EDNS: version: {}, flags:{flags}; udp: {}",
        edns.version, edns.udp_payload_size
    )?;
    for option in &edns.options {
        writeln!(f, "; {option}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Edns, EdnsOption, Name, RData, RecordType};
    use std::net::Ipv4Addr;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn response() -> Message {
        let query = Message::query(4242, name("www.example.com."), RecordType::A, true, None);
        let mut response = Message::response_to(&query);
        response.header.aa = true;
        response.answers.push(Record::new(
            name("www.example.com."),
            3600,
            RData::A(Ipv4Addr::new(192, 0, 2, 1)),
        ));
        response.edns = Some(Edns {
            options: vec![EdnsOption::new(
                EdnsOption::COOKIE,
                [1, 2, 3, 4, 5, 6, 7, 8],
            )],
            ..Edns::default()
        });
        response
    }

    #[test]
    fn dig_layout() {
        let expected = "\
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 0102030405060708
;; QUESTION SECTION:
;www.example.com.\t\tIN\tA

;; ANSWER SECTION:
www.example.com.\t3600\tIN\tA\t192.0.2.1

";
        assert_eq!(response().to_string(), expected);
    }

    #[test]
    fn columns_like_bind() {
        let record = |owner: &str| {
            dig_record_line(&Record::new(
                name(owner),
                300,
                RData::A(Ipv4Addr::LOCALHOST),
            ))
        };
        assert_eq!(
            record("example.com."),
            "example.com.\t\t300\tIN\tA\t127.0.0.1"
        );
        assert_eq!(
            record("a-long-name.in.example.com."),
            "a-long-name.in.example.com. 300\tIN\tA\t127.0.0.1"
        );
        let question = Question::new(name("example.com."), RecordType::A);
        assert_eq!(dig_question_line(&question), ";example.com.\t\t\tIN\tA");
    }

    #[test]
    fn flags_line_without_flags_and_with_z() {
        let mut message = Message::default();
        message.header.z = true;
        let text = message.to_string();
        assert!(text.contains(";; flags:; MBZ: 0x4; QUERY: 0,"), "{text}");
    }

    #[test]
    fn summaries() {
        let query = Message::query(4242, name("www.example.com."), RecordType::A, true, None);
        assert_eq!(query.summary(), "Q 4242 www.example.com. A +rd");
        assert_eq!(
            response().summary(),
            "R 4242 NOERROR aa www.example.com. A 192.0.2.1 (1 answer)"
        );
        let mut nx = Message::response_to(&query);
        nx.set_rcode(crate::wire::Rcode::NXDOMAIN);
        nx.authorities.push(Record::new(
            name("example.com."),
            300,
            RData::Txt(vec![b"soa stand-in".to_vec()]),
        ));
        assert_eq!(
            nx.summary(),
            "R 4242 NXDOMAIN www.example.com. A (0 answers, 1 authority)"
        );
        let mut chain = Message::response_to(&query);
        chain.answers.push(Record::new(
            name("www.example.com."),
            60,
            RData::Cname(name("web.example.net.")),
        ));
        chain.answers.push(Record::new(
            name("web.example.net."),
            60,
            RData::A(Ipv4Addr::new(192, 0, 2, 7)),
        ));
        assert_eq!(
            chain.summary(),
            "R 4242 NOERROR www.example.com. A CNAME web.example.net., 192.0.2.7 (2 answers)"
        );
    }

    #[test]
    fn record_line_is_zone_file_text() {
        let record = Record::new(
            name("example.com."),
            3600,
            RData::Mx {
                preference: 10,
                exchange: name("mail.example.com."),
            },
        );
        assert_eq!(
            record.to_string(),
            "example.com.\t3600\tIN\tMX\t10 mail.example.com."
        );
    }

    /// Captured from `dig` 9.18.49 run against a stub that answered with this message's bytes.
    const DIG_9_18_OUTPUT: &str = r#";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 4242
;; flags: qr aa rd ra ad cd; MBZ: 0x4; QUERY: 1, ANSWER: 9, AUTHORITY: 1, ADDITIONAL: 1

;; QUESTION SECTION:
;www.example.com.		IN	A

;; ANSWER SECTION:
www.example.com.	3600	IN	A	192.0.2.1
ch.example.com.		0	CH	TXT	"x"
ch.example.com.		0	CLASS77	TXT	"x"
www.example.com.	3600	IN	TXT	"he said \"hi\"\001\255" ""
www.example.com.	3600	IN	CAA	0 issue "letsencrypt.org"
www.example.com.	3600	IN	TYPE65280 \# 100 000102030405060708090A0B0C0D0E0F101112131415161718191A1B 1C1D1E1F202122232425262728292A2B2C2D2E2F3031323334353637 38393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F50515253 5455565758595A5B5C5D5E5F60616263
a-long-name.in.example.com. 3600 IN	SRV	1 2 3 x.example.com.
a.very.long.name.that.exceeds.the.columns.example.com. 3600 IN AAAA 2001:db8::1
we\.ird\032name.example.com. 3600 IN	SOA	ns.example.com. host\.master.example.com. 1 2 3 4 5

;; AUTHORITY SECTION:
example.com.		300	IN	NS	ns.example.com.

;; ADDITIONAL SECTION:
ns.example.com.		300	IN	A	192.0.2.53

"#;

    #[test]
    fn matches_real_dig_output() {
        let mut m = response();
        m.edns = None;
        m.header.ra = true;
        m.header.z = true;
        m.header.ad = true;
        m.header.cd = true;
        m.set_rcode(crate::wire::Rcode::NXDOMAIN);
        let record = |owner: &str, ttl, rdata| Record::new(name(owner), ttl, rdata);
        let txt_x = || RData::Txt(vec![b"x".to_vec()]);
        let mut chaos = record("ch.example.com.", 0, txt_x());
        chaos.class = crate::wire::Class::CH;
        let mut class77 = record("ch.example.com.", 0, txt_x());
        class77.class = crate::wire::Class(77);
        m.answers.extend([
            chaos,
            class77,
            record(
                "www.example.com.",
                3600,
                RData::Txt(vec![b"he said \"hi\"\x01\xff".to_vec(), vec![]]),
            ),
            record(
                "www.example.com.",
                3600,
                RData::Caa {
                    flags: 0,
                    tag: "issue".into(),
                    value: b"letsencrypt.org".to_vec(),
                },
            ),
            record(
                "www.example.com.",
                3600,
                RData::Unknown {
                    rtype: RecordType(65280),
                    data: (0..100).collect(),
                },
            ),
            record(
                "a-long-name.in.example.com.",
                3600,
                RData::Srv {
                    priority: 1,
                    weight: 2,
                    port: 3,
                    target: name("x.example.com."),
                },
            ),
            record(
                "a.very.long.name.that.exceeds.the.columns.example.com.",
                3600,
                RData::Aaaa("2001:db8::1".parse().unwrap()),
            ),
            record(
                r"we\.ird\032name.example.com.",
                3600,
                RData::Soa {
                    mname: name("ns.example.com."),
                    rname: name(r"host\.master.example.com."),
                    serial: 1,
                    refresh: 2,
                    retry: 3,
                    expire: 4,
                    minimum: 5,
                },
            ),
        ]);
        m.authorities.push(record(
            "example.com.",
            300,
            RData::Ns(name("ns.example.com.")),
        ));
        m.additionals.push(record(
            "ns.example.com.",
            300,
            RData::A(Ipv4Addr::new(192, 0, 2, 53)),
        ));
        assert_eq!(m.to_string(), DIG_9_18_OUTPUT);
    }
}
