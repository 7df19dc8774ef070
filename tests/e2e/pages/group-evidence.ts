/**
 * Test page for tests/e2e/group-evidence.test.ts: the Evidence panel (src/ui/evidence/group-evidence-panel.ts) on the
 * small fixture record tests/fixtures/groups/record.json (bundled by vite), and on a copy with one field damaged.
 */
import '../../../src/ui/evidence/group-evidence-panel';
import record from '../../fixtures/groups/record.json';

const good = document.createElement('group-evidence-panel');
Object.assign(good, { records: [record] });
document.getElementById('good')!.append(good);

const broken = structuredClone(record) as { evidence: Record<string, Record<string, unknown>> };
delete broken.evidence.MBPP!.slope;
const damaged = document.createElement('group-evidence-panel');
Object.assign(damaged, { records: [broken] });
document.getElementById('damaged')!.append(damaged);
