/**
 * The tiny LM's data as plain values, shared by the lab page's main thread and its worker: the ten training sentences,
 * the query sentences, the 14-word vocabulary, the L2 weight, and how a typed sentence becomes token ids. The model
 * itself (./lm.ts: gradients, Hessians, the engine's gradient source) runs only in the lab worker.
 */
export const LM_TRAIN = [
  'the cat sat on the mat',
  'the dog sat on the rug',
  'a cat ate the fish',
  'the dog ate a fish',
  'a bird sat on the mat',
  'the cat chased the bird',
  'the dog chased the cat',
  'a bird ate a fish',
  'the cat sat on the rug',
  'a dog chased a bird',
];
export const LM_QUERIES = ['the dog sat on the mat', 'a cat chased the dog', 'the bird ate the fish'];
export const LM_VOCAB = [
  '<s>',
  '</s>',
  'the',
  'a',
  'cat',
  'dog',
  'bird',
  'fish',
  'sat',
  'ate',
  'chased',
  'on',
  'mat',
  'rug',
];
export const LM_L2 = 0.01;

/** The canonical form of a typed sentence: lower case, single spaces, no leading or trailing space. */
export function normaliseSentence(sentence: string): string {
  return sentence.trim().toLowerCase().split(/\s+/).join(' ');
}

/** Token ids of a sentence with its <s> and </s>; names an empty sentence or an unknown word. */
export function tokenize(sentence: string): number[] {
  const words = normaliseSentence(sentence);
  if (words === '') throw new Error('tiny LM: a sentence needs at least one word');
  const ids = words.split(' ').map((word) => {
    const id = LM_VOCAB.indexOf(word);
    // <s> and </s> (ids 0 and 1) are markers the model adds, not words a sentence may contain.
    if (id < 2) throw new Error(`tiny LM: "${word}" is not in the vocabulary (${LM_VOCAB.slice(2).join(' ')})`);
    return id;
  });
  return [0, ...ids, 1];
}
