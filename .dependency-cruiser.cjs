// Layering of src/ as docs/design.md describes it: entry → app → ports ← adapters, domain pure.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'domain-is-pure',
      comment: 'domain/ has no I/O: it imports only domain/ (and no node: modules).',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'app-uses-ports-not-adapters',
      comment: 'app/ takes its ports as arguments; it never imports an adapter, an entry point or the sandbox.',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^src/(adapters|entry|sandbox)/' },
    },
    {
      name: 'destinations-only-through-the-registry',
      comment:
        'The Braze delivery definitions are built in the composition root alone; everything else reaches a mode ' +
        "through the DestinationRegistry by a target's delivery (docs/architecture.md), so no use case, route or " +
        'other adapter can branch on Braze.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(adapters/braze/|entry/compose[.]ts$)' },
      to: { path: '^src/adapters/braze/' },
    },
    {
      name: 'ports-are-interfaces',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: '^src/(adapters|app|entry|sandbox)/' },
    },
    {
      name: 'adapters-do-not-reach-up',
      comment: 'adapters implement ports; they do not call use cases or entry points.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(app|entry|sandbox)/' },
    },
    {
      name: 'sandbox-stands-alone',
      comment: 'The Braze sandbox shares only the table of Braze instances with the rest of the code.',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/(adapters|app|entry|ports)/|^src/domain/(?!braze-instances)' },
    },
    {
      name: 'web-talks-http-only',
      comment: 'The web UI talks to the HTTP API only.',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/(adapters|app|entry|sandbox|ports)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: 'node_modules|dist' },
  },
};
