import './ui/experiments/flip-view';
import './ui/experiments/reweighting-view';
