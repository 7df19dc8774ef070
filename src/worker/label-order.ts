/** The one reading order of category labels (easy → medium → hard, …) for the page (src/ui imports only worker/). */
export { compareLabels } from '../data/difficulty';
