// NOTE: imports the compiled module directly because src/index.ts does not export
// embeddedBackend yet; switch to `from 'tickbus'` once it does.
import { embeddedBackend } from '../../dist/src/backends/embedded/embedded-backend.js'
import { sharedBusSuite } from './shared-suite.js'

sharedBusSuite('embedded', () => {
  const backend = embeddedBackend()
  return {
    backend: () => backend,
    createTopic: async (topic, partitions) => { backend.createTopic(topic, { partitions }) },
    produce: async (topic, records) => {
      for (const record of records) backend.produce(topic, record)
    },
  }
})
