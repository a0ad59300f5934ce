import { registerSuite } from '../../harness/conformance/register.ts';
import { budgetTests } from './budget.tests.ts';

registerSuite('budget', budgetTests);
