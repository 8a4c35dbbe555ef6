//! The examples and exit codes every subcommand's `--help` ends with (clap's
//! `after_long_help`; `tests/cli_docs.rs` checks each has both). They also reach the
//! man pages `polc man` generates.

/// `polc` itself.
pub const POLC: &str = "\
Examples:
  polc check .
  polc build --target nft --out out .
  polc explain . --from app/client --to app/server --port 80/tcp --target nft
  polc SUBCOMMAND --help

Every command that reads manifests takes --allow-unknown-kinds: kinds of policy API
groups polc does not model are then warnings and skipped, not errors.

Exit codes:
  0  success (warnings allowed)
  1  the input has errors (or a check failed)
  2  usage error: bad flags, unreadable paths";

/// `polc check`.
pub const CHECK: &str = "\
Examples:
  polc check examples/host-firewall
  polc check --deny warnings policies/
  polc check --allow redundant-rule --deny unknown-label policies/
  polc check --format sarif . > polc.sarif
  polc check --format json - < manifests.yaml
  polc check --allow-unknown-kinds vendor/

--allow-unknown-kinds (every command that reads manifests): a kind of a policy API
group polc does not model (policy.networking.k8s.io, projectcalico.org,
crd.projectcalico.org, networking.k8s.io ...Policy) is a warning and skipped, not an
error; its rules are then not in the artifacts. polc.toml: [input]
allow-unknown-kinds = true.

Per-code levels: polc.toml at the repository root ([lints] CODE = \"allow\" |
\"warn\" | \"deny\"), --allow/--warn/--deny CODE, and a policy's polc.dev/allow
annotation (\"CODE: reason\"); the annotation wins over flags, flags over polc.toml.

Exit codes:
  0  no errors (warnings allowed, unless --deny warnings)
  1  the input has errors (or denied warnings), or holds no manifest
  2  usage error: bad flags, unknown codes, unreadable paths";

/// `polc build`.
pub const BUILD: &str = "\
Examples:
  polc build --target nft --out out examples/host-firewall
  polc build --target nft --out out --node node-1 .
  polc build --target all --out out examples/host-firewall

On the node: `nft -c -f polc.nft && nft -f polc.nft`; for iptables
`./polc-iptables-load --test . && ./polc-iptables-load .` in the node's folder
(fills polc.ipset's sets, checks and loads polc.iptables and polc.ip6tables with
--noflush, hooks polc's chains in once). Artifacts name sources
relative to the repository root (the git top-level of the inputs, else their
folder): the same bytes from any checkout. out/manifest.json follows
docs/manifest.schema.json.

Build runs the checks `polc check` runs, with the same severity configuration.

Exit codes:
  0  every artifact and manifest.json written
  1  the input has errors (as check reports them), or holds no manifest: nothing written
  2  usage error: bad flags, unreadable paths, an --out polc may not replace";

/// `polc matrix`.
pub const MATRIX: &str = "\
Examples:
  polc matrix examples/three-tiers
  polc matrix . --port 22/tcp --port 53/udp --to \"role == 'node'\"
  polc matrix . --format html -o matrix.html
  polc matrix . --staged

Exit codes:
  0  the matrix was printed
  1  the input has errors
  2  usage error: bad flags, unknown endpoints, unreadable paths";

/// `polc explain`.
pub const EXPLAIN: &str = "\
Examples:
  polc explain . --from prod/backend --to host/node-worker --port 10250/tcp
  polc explain . --from dev/frontend --to 10.0.0.7 --port 53/udp --format json
  polc explain . --from app/client --to app/server --port 80/tcp --target nft --artifacts out
  polc explain . --from 192.168.1.2 --to 192.168.2.2 --port 8080/tcp --via n1:eth0:eth1
  polc explain . --from app/web --to app/db --port 5432/tcp --staged

With --target nft each stage also names the chain and deciding rule of the node's
artifact, as NODE/polc.nft:LINE (under --artifacts DIR when given).

Exit codes:
  0  the flow was explained (allowed or denied; with --exit-code, allowed)
  1  the input has errors, or --exit-code and the flow is denied
  2  usage error: bad flags, unknown endpoints, a bad --port";

/// `polc selector`.
pub const SELECTOR: &str = "\
Examples:
  polc selector \"role == 'node' && has(k8s-app)\"
  polc selector \"app in {'web', 'api'}\" --labels '{\"app\": \"web\"}'
  polc selector \"role = 'node'\" --format json

Exit codes:
  0  the selector is valid (whether or not it matches --labels, unless --exit-code)
  1  the selector is invalid (the column of the error is printed), or --exit-code
     and it does not match --labels
  2  usage error: bad flags, --labels is not a JSON object of strings";

/// `polc test`.
pub const TEST: &str = "\
Examples:
  polc test policies/ --assertions assertions.yaml
  polc test . --assertions tests/intent.yaml --format junit > polc-junit.xml
  polc test . --assertions tests/intent.yaml --format json

Each assertion: name, from, to (a name, a cidr, or selector/namespace/kind), ports
(10250/tcp, 8000-8080/udp, tcp, icmp), expect (allowed | denied), quantifier (all |
any). A failure prints the witness flow and the deciding rule.

Exit codes:
  0  every assertion holds
  1  an assertion fails, or the assertion file or the input has errors
  2  usage error: bad flags, an unreadable assertion file or path";

/// `polc graph`.
pub const GRAPH: &str = "\
Examples:
  polc graph examples/three-tiers | dot -Tsvg -o tiers.svg
  polc graph . --endpoint app/server --out server.dot

Exit codes:
  0  the graph was written
  1  the input has errors
  2  usage error: bad flags, an unknown --endpoint, unreadable paths";

/// `polc explain-code`.
pub const EXPLAIN_CODE: &str = "\
Examples:
  polc explain-code shadowed-rule
  polc explain-code --list

Exit codes:
  0  the page or the list was printed
  2  usage error: an unknown code (the closest is suggested)";

/// `polc completions`.
pub const COMPLETIONS: &str = "\
Examples:
  polc completions bash > /etc/bash_completion.d/polc
  polc completions zsh > \"${fpath[1]}/_polc\"
  polc completions fish > ~/.config/fish/completions/polc.fish

Exit codes:
  0  the script was printed
  2  usage error: an unknown shell";

/// `polc man`.
pub const MAN: &str = "\
Examples:
  polc man | man -l -
  polc man build > polc-build.1
  polc man --dir /usr/local/share/man/man1

Exit codes:
  0  the page (or every page) was written
  2  usage error: an unknown subcommand, an unwritable --dir";

/// `polc diff`.
pub const DIFF: &str = "\
Examples:
  polc diff manifests/ --golden golden/
  polc diff manifests/ --golden golden/ --format markdown > comment.md
  polc diff manifests/ --golden golden/ --bless
  polc diff manifests/ --base origin/main
  polc diff manifests/ --base origin/main --intent intent.yaml
  polc diff manifests/ --base HEAD~1 --format html -o diff.html
  polc diff manifests/ --staged
  polc diff manifests/ --staged --intent intent.yaml --format markdown

An intent file is a YAML list: `- {from: prod/backend, to: host/node-worker,
ports: [10250/tcp], verdict: allowed}`; each side endpoint names, a selector or a
CIDR; ports omitted mean everything.

Exit codes:
  0  no difference (with --intent: the change did what it meant and nothing else;
     with --bless: the golden tree was written; with --staged: enforcing the
     staged policies would change no cell)
  1  a difference (with --intent: a change outside it, or a cell not as stated),
     or the input or intent file has errors
  2  usage error: bad flags, a base that is neither a folder nor a revision, a
     golden folder polc may not replace";

/// `polc bless`.
pub const BLESS: &str = "\
Examples:
  polc bless manifests/ --golden golden/

Exit codes:
  0  the golden tree was written (atomically)
  1  the input has errors: nothing written
  2  usage error: bad flags, a golden folder polc may not replace";

/// `polc generate`.
pub const GENERATE: &str = "\
Examples:
  polc generate --preset fleet-s --out gen
  polc generate --policies 1000 --rules 10 --nodes 200 --pods 2000 --out gen
  polc generate --policies 300 --rules 5 --nodes 40 --pods 400 --apps 20 -o gen

Presets: fleet-s (100 policies x 10 rules, 20 nodes, 200 pods), fleet-m (1,000 x 10,
200, 2,000), fleet-l (10,000 x 10, 2,000, 20,000), all with 50 apps; bench-large and
bench-matrix, the benchmarks' original inputs (their rules shadow one another, so
check reports errors on them). The fleet shape: a host-firewall tier (a tenth of the
policies, every node's host endpoint), an apps tier (Calico NetworkPolicies and
GlobalNetworkPolicies), Kubernetes NetworkPolicies, network sets, namespaces, pods,
nodes and host endpoints; every rule allows one or two networks (or a network set,
or an app's pods) on one to three ports, and no two networks overlap. It checks
clean. The same arguments write the same bytes.

The folder must be new, empty, or an earlier output: .polc-generated lists the files
a run wrote, and only those are replaced; anything else there makes it refuse.

Exit codes:
  0  the repository was written
  2  usage error: bad flags or sizes, an unknown preset, an --out polc may not write";
