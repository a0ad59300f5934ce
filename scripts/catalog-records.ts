// Writes suites/records.json from suites/catalog.ts (the records without the bodies).
import { writeFileSync } from 'node:fs';
import { catalog } from '../suites/catalog.ts';
import { RECORDS_PATH, toRecords } from './catalog-records-lib.ts';

writeFileSync(RECORDS_PATH, toRecords(catalog));
