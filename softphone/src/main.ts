import { Phone } from './phone/phone';
import { mountPage } from './ui/page';
import { exposeTestApi } from './ui/test-api';
import './ui/style.css';

const phone = new Phone({ remoteAudio: document.getElementById('remote-audio') as HTMLAudioElement });
exposeTestApi(phone, mountPage(phone));
document.documentElement.dataset.ready = 'true';
