/**
 * The layering of ARCHITECTURE.md, checked in CI (`npm run lint`). A violation names its rule.
 */
module.exports = {
  forbidden: [
    {
      name: 'engine-is-pure',
      comment: 'src/evaluation is the pure engine: it imports nothing else of src/.',
      severity: 'error',
      from: { path: '^src/evaluation/' },
      to: { path: '^src/', pathNot: '^src/evaluation/' },
    },
    {
      name: 'services-know-no-transport',
      comment:
        'Domain services import no HTTP or GraphQL code (fastify, yoga, Pothos, graphql, src/http, src/graphql).',
      severity: 'error',
      from: { path: '^src/modules/[^/]+/service\\.ts$' },
      to: {
        path: ['^src/http/', '^src/graphql/', 'node_modules/(fastify|graphql|graphql-yoga|@pothos|graphql-ws|ws)/'],
      },
    },
    {
      name: 'realtime-is-the-pipeline',
      comment: 'src/realtime is the change pipeline (bus, snapshots, hub, transports): it imports no module.',
      severity: 'error',
      from: { path: '^src/realtime/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'No import cycles between folders.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
