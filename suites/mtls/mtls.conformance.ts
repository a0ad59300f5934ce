import { registerSuite } from '../../harness/conformance/register.ts';
import { mtlsTests } from './mtls.tests.ts';

registerSuite('mtls', mtlsTests);
