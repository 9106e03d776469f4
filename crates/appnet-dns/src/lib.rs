//! DNS for appnet (RFC 1034/1035 and successors): the wire codec, zone files, an authoritative
//! server, a recursive resolver and a dig-like client. Built up in issue 3.
