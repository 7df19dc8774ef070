import 'katex/dist/katex.min.css';
import './ui/teach/teach-app';
